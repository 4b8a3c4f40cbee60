"""The state of one beam search between two steps, and the joining of two such states.

A search holds the live hypotheses of one batch, or of several batches joined by
:mod:`.tail_merging`. Its per-sentence storage (finished hypotheses, maximum lengths) is
indexed by the ids in ``sentence_ids``; its per-row tensors hold the live hypotheses,
``beam`` consecutive rows per live sentence, in ``sentence_ids``' order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from .constraints import ConstraintState, SentenceConstraints
from .finalized import FinalizedHypotheses


@dataclass
class Search:
    """What a beam search carries from one step to the next."""

    tokens: torch.Tensor  # rows x (max_len + 2): </s> (or bos), then the tokens so far, then <pad>
    scores: torch.Tensor  # rows x (max_len + 1): cumulative log-probability after each token
    sentence_ids: torch.Tensor  # the live sentences, in row order
    max_lens: torch.Tensor  # per sentence: the longest hypothesis it may have
    row_max_lens: torch.Tensor  # per row: its sentence's max_lens
    earliest_end: int  # the smallest max_lens of a live sentence
    prefix_tokens: torch.Tensor | None  # per row: forced first tokens
    encoder_outs: list[Any] | None  # per model
    states: list[dict[str, Any]] | None  # per model: its decoder's incremental state
    finalized: FinalizedHypotheses
    step: int = 0  # the step the next call decodes
    offsets: torch.Tensor | None = None  # each live sentence's first row (n x 1), kept while n stays
    constraints: list[SentenceConstraints] | None = None  # per sentence id: lexical constraints
    constraint_states: list[list[ConstraintState]] | None = None  # per live sentence: its K states

    @property
    def live(self) -> int:
        """How many sentences are still searched."""
        return self.sentence_ids.numel()


def joined_rows(first: torch.Tensor, second: torch.Tensor, fill: float) -> torch.Tensor:
    """The rows of ``first`` then ``second``; the narrower is padded with ``fill`` at the end of its last dimension."""
    width = max(first.size(-1), second.size(-1))
    return torch.cat([F.pad(t, (0, width - t.size(-1)), value=fill) for t in (first, second)])


def join_searches(first: Search, second: Search, kept: torch.Tensor, pad: int) -> Search:
    """One search over ``first``'s live hypotheses, then ``second``'s; both must be at the same step.

    ``first``'s storage keeps only the sentences ``kept`` (which include all its live ones), in
    that order, followed by all of ``second``'s; the caller joins the models' encoder outputs and
    incremental states (``encoder_outs``, ``states``) and passes them in afterwards.
    """
    if first.step != second.step:
        raise ValueError(f"cannot join searches at steps {first.step} and {second.step}")
    if first.prefix_tokens is not None or second.prefix_tokens is not None:
        raise ValueError("searches with forced prefix tokens cannot be joined")
    if first.constraints is not None or second.constraints is not None:
        raise ValueError("searches with lexical constraints cannot be joined")
    remap = torch.full_like(first.max_lens, -1)
    remap[kept] = torch.arange(kept.numel(), device=kept.device)
    return Search(
        tokens=joined_rows(first.tokens, second.tokens, pad),
        scores=joined_rows(first.scores, second.scores, 0.0),
        sentence_ids=torch.cat([remap[first.sentence_ids], second.sentence_ids + kept.numel()]),
        max_lens=torch.cat([first.max_lens[kept], second.max_lens]),
        row_max_lens=torch.cat([first.row_max_lens, second.row_max_lens]),
        earliest_end=min(first.earliest_end, second.earliest_end),
        prefix_tokens=None,
        encoder_outs=None,
        states=None,
        finalized=first.finalized.select(kept).join(second.finalized),
        step=first.step,
    )
