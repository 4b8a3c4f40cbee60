"""A model with an adaptive softmax, built from core's test pieces only (no model package needed)."""

from __future__ import annotations

from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from seqlab.core.testing.dummy_model import DummyTranslationModel


class TwoBandSoftmax(nn.Module):
    """An adaptive softmax with one tail: words below ``cutoff`` in the head, the rest in the tail."""

    def __init__(self, dim: int, cutoff: int, vocab: int) -> None:
        super().__init__()
        self.cutoff, self.vocab = cutoff, vocab
        self.head = nn.Linear(dim, cutoff + 1)
        self.tail = nn.Linear(dim, vocab - cutoff)

    def adapt_target(self, target: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Head targets (tail words as the cluster entry), tail targets and the tail's rows."""
        in_tail = target.ge(self.cutoff)
        rows = in_tail.nonzero().squeeze(1)
        head = target.masked_fill(in_tail, self.cutoff)
        return [head, target.index_select(0, rows) - self.cutoff], [rows]

    def forward(self, x: torch.Tensor, target: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Head scores for every row, tail scores for the rows whose target is a tail word."""
        targets, (rows,) = self.adapt_target(target)
        return [self.head(x), self.tail(x.index_select(0, rows))], targets

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """The whole distribution, for checking the loss against it."""
        head = F.log_softmax(self.head(x), dim=-1)
        tail = F.log_softmax(self.tail(x), dim=-1) + head[..., self.cutoff :]
        return torch.cat([head[..., : self.cutoff], tail], dim=-1)


class AdaptiveToyModel(DummyTranslationModel):
    """The dummy translation model whose output is features, scored by ``decoder.adaptive_softmax``."""

    def __init__(self, source_dictionary: Any, target_dictionary: Any, dim: int = 8) -> None:
        super().__init__(source_dictionary, target_dictionary, dim)
        self.decoder = nn.Module()
        self.decoder.adaptive_softmax = TwoBandSoftmax(
            dim, len(target_dictionary) // 2, len(target_dictionary)
        )
        self.out = nn.Identity()  # forward then returns the features


@pytest.fixture
def adaptive_toy_model():
    """Return a function building an :class:`AdaptiveToyModel` for a task's dictionaries."""
    return lambda task: AdaptiveToyModel(task.source_dictionary, task.target_dictionary)
