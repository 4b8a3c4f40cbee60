"""A small encoder-decoder with an incremental decoder, and variants that each break one contract."""

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from seqlab.core import (
    Encoder,
    EncoderDecoderModel,
    IncrementalDecoder,
    register_model,
    register_model_architecture,
)


class ToyEncoder(Encoder):
    """The mean of the source embeddings, padding left out."""

    def __init__(self, dictionary, dim):
        super().__init__(dictionary)
        self.embed = nn.Embedding(len(dictionary), dim, padding_idx=dictionary.pad())

    def forward(self, src_tokens, src_lengths=None, **kwargs):
        real = src_tokens.ne(self.dictionary.pad()).unsqueeze(-1)
        return {"context": (self.embed(src_tokens) * real).sum(1) / real.sum(1).clamp(min=1)}

    def reorder_encoder_out(self, encoder_out, new_order):
        return {"context": encoder_out["context"].index_select(0, new_order)}


class ToyDecoder(IncrementalDecoder):
    """Each position sees its token, the running mean of the tokens so far and the source."""

    def __init__(self, dictionary, dim, out_size):
        super().__init__(dictionary)
        self.embed = nn.Embedding(len(dictionary), dim, padding_idx=dictionary.pad())
        self.mix = nn.Linear(dim, dim)
        self.out = nn.Linear(dim, out_size)

    def extract_features(self, prev_output_tokens, encoder_out=None, incremental_state=None, **kwargs):
        cache = self.load_cache(incremental_state)
        seen = cache["count"] if cache else 0
        x = self.embed(prev_output_tokens[:, seen:])
        sums = x.cumsum(1) + (cache["sum"].unsqueeze(1) if cache else 0)
        counts = torch.arange(seen + 1, seen + x.size(1) + 1).view(1, -1, 1)
        if incremental_state is not None:
            self.save_cache(incremental_state, {"sum": sums[:, -1], "count": seen + x.size(1)})
        return torch.tanh(x + self.mix(sums / counts) + encoder_out["context"].unsqueeze(1)), {}

    def output_layer(self, features, **kwargs):
        return self.out(features)

    def load_cache(self, incremental_state):
        return self.get_incremental_state(incremental_state, "cache")

    def save_cache(self, incremental_state, value):
        self.set_incremental_state(incremental_state, "cache", value)

    def reorder_incremental_state(self, incremental_state, new_order):
        cache = self.get_incremental_state(incremental_state, "cache")
        if cache is not None:
            cache["sum"] = cache["sum"].index_select(0, new_order)


@dataclass
class ToySeq2SeqConfig:
    embed_dim: int = field(default=8, metadata={"help": "embedding size"})


@register_model("toy_seq2seq", dataclass=ToySeq2SeqConfig)
class ToySeq2Seq(EncoderDecoderModel):
    decoder_class = ToyDecoder

    @classmethod
    def build_model(cls, args, task):
        src, tgt = task.source_dictionary, task.target_dictionary
        decoder = cls.decoder_class(tgt, args.embed_dim, cls.output_size(task))
        return cls(ToyEncoder(src, args.embed_dim), decoder)

    @staticmethod
    def output_size(task):
        return len(task.target_dictionary)


@register_model_architecture("toy_seq2seq", "toy_seq2seq_wide")
def toy_seq2seq_wide(args):
    args.embed_dim = getattr(args, "embed_dim", 16)


@register_model("toy_wrong_vocabulary", dataclass=ToySeq2SeqConfig)
class ToyWrongVocabulary(ToySeq2Seq):
    """Breaks: sizes its output by the source dictionary."""

    @staticmethod
    def output_size(task):
        return len(task.source_dictionary)


@register_model("toy_unused_parameter", dataclass=ToySeq2SeqConfig)
class ToyUnusedParameter(ToySeq2Seq):
    """Breaks: holds a parameter the loss never reaches."""

    def __init__(self, encoder, decoder):
        super().__init__(encoder, decoder)
        self.spare = nn.Linear(2, 2)


@register_model("toy_always_dropout", dataclass=ToySeq2SeqConfig)
class ToyAlwaysDropout(ToySeq2Seq):
    """Breaks: applies dropout in eval mode too."""

    def forward(self, src_tokens, src_lengths, prev_output_tokens, **kwargs):
        logits, extra = super().forward(src_tokens, src_lengths, prev_output_tokens)
        return F.dropout(logits, 0.5, training=True), extra


@register_model("toy_unsaved_state", dataclass=ToySeq2SeqConfig)
class ToyUnsavedState(ToySeq2Seq):
    """Breaks: keeps a random tensor as a plain attribute, outside the state dict."""

    def __init__(self, encoder, decoder):
        super().__init__(encoder, decoder)
        self.temperature = torch.rand(()) + 0.5

    def forward(self, src_tokens, src_lengths, prev_output_tokens, **kwargs):
        logits, extra = super().forward(src_tokens, src_lengths, prev_output_tokens)
        return logits / self.temperature, extra


class CacheOnSelfDecoder(ToyDecoder):
    """Breaks: keeps its running sum on itself, so two searches at once overwrite each other's."""

    def load_cache(self, incremental_state):
        if not incremental_state:
            return None
        return {"sum": self._sum, "count": incremental_state["count"]}

    def save_cache(self, incremental_state, value):
        self._sum = value["sum"]
        incremental_state["count"] = value["count"]

    def reorder_incremental_state(self, incremental_state, new_order):
        self._sum = self._sum.index_select(0, new_order)


class NoReorderDecoder(ToyDecoder):
    """Breaks: ignores reorder_incremental_state."""

    def reorder_incremental_state(self, incremental_state, new_order):
        pass


@register_model("toy_cache_on_self", dataclass=ToySeq2SeqConfig)
class ToyCacheOnSelf(ToySeq2Seq):
    decoder_class = CacheOnSelfDecoder


@register_model("toy_no_reorder", dataclass=ToySeq2SeqConfig)
class ToyNoReorder(ToySeq2Seq):
    decoder_class = NoReorderDecoder


def _register_a_local_class():
    @register_model("toy_local_class", dataclass=ToySeq2SeqConfig)
    class ToyLocalClass(ToySeq2Seq):
        """Breaks: defined inside a function, so it cannot be pickled by reference."""


_register_a_local_class()
