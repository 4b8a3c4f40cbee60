"""Two small models on the incremental-decoder contract, registered as ``toy_seq2seq`` and ``toy_lm``."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from seqlab.core import Encoder, EncoderDecoderModel, IncrementalDecoder, LanguageModel, register_model


@dataclass
class ToyConfig:
    """Options of the toy models."""

    toy_dim: int = field(default=16, metadata={"help": "hidden size"})
    toy_eos_bias: float = field(default=1.0, metadata={"help": "added to the </s> logit, so outputs end"})
    toy_max_positions: int = field(default=64, metadata={"help": "longest input"})


def _attend(h, memory, padding):
    scores = torch.bmm(memory, h.unsqueeze(2)).squeeze(2).masked_fill(padding, float("-inf"))
    return torch.bmm(scores.softmax(dim=1).unsqueeze(1), memory).squeeze(1)


class ToyEncoder(Encoder):
    def __init__(self, dictionary, dim, max_positions):
        super().__init__(dictionary)
        self.embed = nn.Embedding(len(dictionary), dim, padding_idx=dictionary.pad())
        self.proj = nn.Linear(dim, dim)
        self.pad, self.limit = dictionary.pad(), max_positions

    def forward(self, src_tokens, src_lengths=None, **kwargs):
        x = torch.tanh(self.proj(self.embed(src_tokens)))
        return {"encoder_out": [x.transpose(0, 1)], "encoder_padding_mask": [src_tokens.eq(self.pad)]}

    def reorder_encoder_out(self, encoder_out, new_order):
        return {
            "encoder_out": [encoder_out["encoder_out"][0].index_select(1, new_order)],
            "encoder_padding_mask": [encoder_out["encoder_padding_mask"][0].index_select(0, new_order)],
        }

    def max_positions(self):
        return self.limit


class ToyDecoder(IncrementalDecoder):
    def __init__(self, dictionary, dim, max_positions, eos_bias, attend=True):
        super().__init__(dictionary)
        self.dim, self.attend, self.limit = dim, attend, max_positions
        self.embed = nn.Embedding(len(dictionary), dim, padding_idx=dictionary.pad())
        self.cell = nn.GRUCell(2 * dim if attend else dim, dim)
        self.out = nn.Linear(2 * dim if attend else dim, len(dictionary))
        with torch.no_grad():
            self.out.weight.mul_(4.0)
            self.out.bias[dictionary.eos()] += eos_bias

    def extract_features(self, prev_output_tokens, encoder_out=None, incremental_state=None, **kwargs):
        bsz, total = prev_output_tokens.shape
        state = self.get_incremental_state(incremental_state, "state")
        h = state["h"] if state else self.out.weight.new_zeros(bsz, self.dim)
        start = state["length"] if state else 0
        if self.attend:
            memory = encoder_out["encoder_out"][0].transpose(0, 1)
            padding = encoder_out["encoder_padding_mask"][0]
        outs = []
        for t in range(start, total):
            x = self.embed(prev_output_tokens[:, t])
            if self.attend:
                x = torch.cat([x, _attend(h, memory, padding)], dim=1)
            h = self.cell(x, h)
            outs.append(torch.cat([h, _attend(h, memory, padding)], dim=1) if self.attend else h)
        if incremental_state is not None:
            self.set_incremental_state(incremental_state, "state", {"h": h, "length": total})
        return torch.stack(outs, dim=1), {"attn": None}

    def output_layer(self, features, **kwargs):
        return self.out(features)

    def reorder_incremental_state(self, incremental_state, new_order):
        state = self.get_incremental_state(incremental_state, "state")
        if state is not None:
            state["h"] = state["h"].index_select(0, new_order)

    def max_positions(self):
        return self.limit


@register_model("toy_seq2seq", dataclass=ToyConfig)
class ToySeq2Seq(EncoderDecoderModel):
    @classmethod
    def build_model(cls, args, task):
        dim, limit = args.toy_dim, args.toy_max_positions
        encoder = ToyEncoder(task.source_dictionary, dim, limit)
        return cls(encoder, ToyDecoder(task.target_dictionary, dim, limit, args.toy_eos_bias))


@register_model("toy_lm", dataclass=ToyConfig)
class ToyLM(LanguageModel):
    @classmethod
    def build_model(cls, args, task):
        dim, limit = args.toy_dim, args.toy_max_positions
        return cls(ToyDecoder(task.target_dictionary, dim, limit, args.toy_eos_bias, attend=False))
