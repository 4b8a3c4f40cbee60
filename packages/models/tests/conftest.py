"""Fixtures for seqlab-models' tests: a stand-in dictionary and task, and models built by arch name."""

from __future__ import annotations

import argparse
from types import SimpleNamespace
from typing import Any

import pytest
import torch

import seqlab.models.lstm  # noqa: F401  (registers the plugins even without entry points)
import seqlab.models.transformer  # noqa: F401
import seqlab.models.transformer_lm  # noqa: F401
from seqlab.core import build_model
from seqlab.core.registry import resolve_architecture

BOS, PAD, EOS, UNK = 0, 1, 2, 3


class TinyDictionary:
    """What models use of a Dictionary: its size and the special symbols' ids (fairseq's order)."""

    def __init__(self, size: int) -> None:
        self.size = size

    def __len__(self) -> int:
        return self.size

    def bos(self) -> int:
        return BOS

    def pad(self) -> int:
        return PAD

    def eos(self) -> int:
        return EOS

    def unk(self) -> int:
        return UNK


class TinyTask:
    """A task-like object holding the two dictionaries."""

    def __init__(self, source: Any, target: Any | None = None) -> None:
        self.source_dictionary = source
        self.target_dictionary = source if target is None else target


def build(arch: str, task: Any, **options: Any) -> torch.nn.Module:
    """Build the model of ``arch`` as seq-train does: typed options, then the arch preset."""
    args = argparse.Namespace(arch=arch, **options)
    arch_plugin, _ = resolve_architecture(arch)
    arch_plugin.obj(args)
    return build_model(args, task)


def random_tokens(bsz: int, length: int, vocab: int, generator: torch.Generator) -> torch.Tensor:
    """Return B x T tokens drawn from the non-special symbols."""
    return torch.randint(4, vocab, (bsz, length), generator=generator)


def pad_rows(rows: list[torch.Tensor], left: bool) -> torch.Tensor:
    """Stack 1-D token rows into B x T, padding each on the left or the right."""
    length = max(len(r) for r in rows)
    out = torch.full((len(rows), length), PAD, dtype=torch.long)
    for i, r in enumerate(rows):
        if left:
            out[i, length - len(r) :] = r
        else:
            out[i, : len(r)] = r
    return out


TINY_TRANSFORMER = dict(
    encoder_embed_dim=32,
    encoder_ffn_embed_dim=64,
    encoder_layers=2,
    encoder_attention_heads=4,
    decoder_embed_dim=32,
    decoder_ffn_embed_dim=64,
    decoder_layers=2,
    decoder_attention_heads=4,
)
TINY_LM = dict(decoder_embed_dim=32, decoder_ffn_embed_dim=64, decoder_layers=2, decoder_attention_heads=4)
TINY_LSTM = dict(
    encoder_embed_dim=24,
    encoder_hidden_size=32,
    decoder_embed_dim=24,
    decoder_hidden_size=32,
    decoder_out_embed_dim=24,
    encoder_layers=2,
    decoder_layers=2,
)


@pytest.fixture
def gen() -> torch.Generator:
    """A seeded generator; also seeds torch's global RNG for parameter initialisation."""
    torch.manual_seed(0)
    return torch.Generator().manual_seed(1234)


@pytest.fixture
def kit() -> SimpleNamespace:
    """The helpers above, for test modules (which cannot import conftest under importlib mode)."""
    return SimpleNamespace(
        TinyDictionary=TinyDictionary,
        TinyTask=TinyTask,
        build=build,
        random_tokens=random_tokens,
        pad_rows=pad_rows,
        TINY_TRANSFORMER=TINY_TRANSFORMER,
        TINY_LM=TINY_LM,
        TINY_LSTM=TINY_LSTM,
        BOS=BOS,
        PAD=PAD,
        EOS=EOS,
    )
