"""Tail merging: the last sentences of a batch decode with the next batch, and every batch still
gets the hypotheses it gets alone."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from seqlab.core import Encoder, EncoderDecoderModel, IncrementalDecoder
from seqlab.core.dictionary import Dictionary
from seqlab.tasks.generation import GenerationConfig, SequenceGenerator
from seqlab.tasks.generation.finalized import FinalizedHypotheses

PAD, EOS = 1, 2


class PaddedEncoder(Encoder):
    """Embeddings as the encoder states; merges by padding the shorter source."""

    def __init__(self, dictionary: Dictionary, dim: int) -> None:
        super().__init__(dictionary)
        self.embed = nn.Embedding(len(dictionary), dim, padding_idx=PAD)

    def forward(self, src_tokens, src_lengths=None, **kwargs):
        return {
            "encoder_out": [torch.tanh(self.embed(src_tokens))],
            "encoder_padding_mask": [src_tokens.eq(PAD)],
        }

    def reorder_encoder_out(self, encoder_out, new_order):
        return {k: [v[0].index_select(0, new_order)] for k, v in encoder_out.items()}

    def merge_encoder_out(self, first, second):
        width = max(first["encoder_out"][0].size(1), second["encoder_out"][0].size(1))
        states = [
            F.pad(o["encoder_out"][0], (0, 0, 0, width - o["encoder_out"][0].size(1)))
            for o in (first, second)
        ]
        masks = [F.pad(o["encoder_padding_mask"][0], (0, width - o["encoder_padding_mask"][0].size(1)), value=True)
                 for o in (first, second)]  # fmt: skip
        return {"encoder_out": [torch.cat(states)], "encoder_padding_mask": [torch.cat(masks)]}


class RecurrentDecoder(IncrementalDecoder):
    """A recurrent state updated from each token and an attention over the source."""

    supports_merged_decoding = True

    def __init__(self, dictionary: Dictionary, dim: int) -> None:
        super().__init__(dictionary)
        self.dim = dim
        self.embed = nn.Embedding(len(dictionary), dim, padding_idx=PAD)
        self.cell = nn.GRUCell(2 * dim, dim)
        self.out = nn.Linear(dim, len(dictionary))
        self.calls = 0

    def extract_features(self, prev_output_tokens, encoder_out=None, incremental_state=None, **kwargs):
        state = self.get_incremental_state(incremental_state, "h")
        bsz, total = prev_output_tokens.shape
        h = state["h"] if state else torch.zeros(bsz, self.dim)
        memory, padding = encoder_out["encoder_out"][0], encoder_out["encoder_padding_mask"][0]
        if memory.size(0) != bsz:  # one row per hypothesis when the generator passes one per sentence
            memory = memory.repeat_interleave(bsz // memory.size(0), 0)
            padding = padding.repeat_interleave(bsz // padding.size(0), 0)
        outs = []
        for t in range(state["length"] if state else 0, total):
            weights = (
                torch.bmm(memory, h.unsqueeze(2)).squeeze(2).masked_fill(padding, float("-inf")).softmax(1)
            )
            context = torch.bmm(weights.unsqueeze(1), memory).squeeze(1)
            h = self.cell(torch.cat([self.embed(prev_output_tokens[:, t]), context], 1), h)
            outs.append(h)
        self.calls += 1
        if incremental_state is not None:
            self.set_incremental_state(incremental_state, "h", {"h": h, "length": total})
        return torch.stack(outs, 1), None

    def output_layer(self, features, **kwargs):
        return self.out(features)

    def reorder_incremental_state(self, incremental_state, new_order):
        state = self.get_incremental_state(incremental_state, "h")
        if state is not None:
            state["h"] = state["h"].index_select(0, new_order)

    def merge_incremental_state(self, incremental_state, other):
        mine, theirs = (
            self.get_incremental_state(incremental_state, "h"),
            self.get_incremental_state(other, "h"),
        )
        assert mine["length"] == theirs["length"]
        mine["h"] = torch.cat([mine["h"], theirs["h"]])

    def max_positions(self) -> int:
        return 64


@pytest.fixture(scope="module")
def dictionary() -> Dictionary:
    d = Dictionary()
    for i in range(14):
        d.add_symbol(f"w{i}")
    return d


@pytest.fixture(scope="module")
def model(dictionary) -> EncoderDecoderModel:
    torch.manual_seed(0)
    model = EncoderDecoderModel(PaddedEncoder(dictionary, 12), RecurrentDecoder(dictionary, 12))
    with torch.no_grad():
        model.decoder.out.weight.mul_(4.0)  # peaked distributions: few near-ties between hypotheses
        model.decoder.out.bias[EOS] += 1.5  # hypotheses end at many different lengths
    return model.eval()


def batches(count: int, size: int, seed: int = 0) -> list[dict]:
    """Left-padded batches of random sentences of 1 to 9 words."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(count):
        lengths = torch.randint(1, 10, (size,), generator=g).tolist()
        src = torch.full((size, max(lengths) + 1), PAD)
        for i, n in enumerate(lengths):
            src[i, -n - 1 :] = torch.cat([torch.randint(4, 18, (n,), generator=g), torch.tensor([EOS])])
        out.append(
            {"id": torch.arange(size), "net_input": {"src_tokens": src, "src_lengths": src.ne(PAD).sum(1)}}
        )
    return out


def _same(got, want):
    for g_hypos, w_hypos in zip(got, want, strict=True):
        assert [h["tokens"].tolist() for h in g_hypos] == [h["tokens"].tolist() for h in w_hypos]
        assert [h["score"] for h in g_hypos] == pytest.approx([h["score"] for h in w_hypos], abs=1e-5)


@pytest.mark.parametrize(
    "options",
    [
        {"beam": 4, "nbest": 4},
        {"beam": 1, "max_len_a": 1.0, "max_len_b": 3},
        {"beam": 3, "nbest": 2, "min_len": 2, "no_repeat_ngram_size": 2, "lenpen": 0.5},
        {"beam": 3, "nbest": 3, "match_source_len": True},
        {"beam": 4, "nbest": 4, "diverse_beam_groups": 2},
        {"beam": 4, "nbest": 2, "diversity_rate": 0.5},
    ],
    ids=["beam", "greedy", "rules", "source-length", "diverse-groups", "diverse-siblings"],
)
def test_every_batch_gets_the_hypotheses_it_gets_alone_in_fewer_decoder_steps(model, dictionary, options):
    samples = batches(6, 10)
    generator = SequenceGenerator([model], dictionary, GenerationConfig(**{"max_len_b": 12, **options}))
    assert generator.model.can_merge
    model.decoder.calls = 0
    alone = [generator(s) for s in samples]
    calls_alone, model.decoder.calls = model.decoder.calls, 0
    merged = list(generator.generate_batches(iter(samples)))
    assert sorted(id(s) for s, _ in merged) == sorted(id(s) for s in samples)  # each batch once
    assert model.decoder.calls < calls_alone
    for sample, got in merged:
        _same(got, alone[next(i for i, s in enumerate(samples) if s is sample)])


def test_a_decoder_that_cannot_merge_decodes_batch_by_batch_in_order(model, dictionary, monkeypatch):
    monkeypatch.setattr(RecurrentDecoder, "supports_merged_decoding", False)
    samples = batches(3, 6, seed=1)
    generator = SequenceGenerator([model], dictionary, GenerationConfig(beam=3))
    assert not generator.model.can_merge
    merged = list(generator.generate_batches(samples))
    assert [s for s, _ in merged] == samples
    for sample, got in merged:
        _same(got, generator(sample))


def test_empty_batches_come_back_empty(model, dictionary):
    empty = {"id": torch.arange(0), "net_input": {"src_tokens": torch.zeros(0, 3, dtype=torch.long)}}
    samples = [*batches(1, 5), empty, *batches(1, 5, seed=2)]
    generator = SequenceGenerator([model], dictionary, GenerationConfig(beam=2))
    merged = list(generator.generate_batches(samples))
    assert [got for s, got in merged if s is empty] == [[]]
    assert len(merged) == 3


def test_finished_hypotheses_select_and_join_keep_each_sentences_own():
    first = FinalizedHypotheses(3, 2, max_len=4, device=torch.device("cpu"))
    second = FinalizedHypotheses(2, 2, max_len=6, device=torch.device("cpu"))
    for storage, base in ((first, 10), (second, 20)):
        n = storage.count.numel()
        storage.tokens[:, 0, :3] = torch.arange(base, base + n).unsqueeze(1)
        storage.scores[:, 0] = -torch.arange(1.0, n + 1)
        storage.lengths[:, 0], storage.count[:] = 3, 1
    joined = first.select(torch.tensor([2, 0])).join(second)
    assert joined.tokens.shape == (4, 2, 7)
    assert [h[0]["tokens"].tolist() for h in joined.to_lists()] == [[12] * 3, [10] * 3, [20] * 3, [21] * 3]
    assert [h[0]["score"] for h in joined.to_lists(1, 3)] == [-1.0, -1.0]
