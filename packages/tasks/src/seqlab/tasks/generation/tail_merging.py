"""Decoding the last sentences of a batch together with the next batch.

A batch decodes for as many steps as its longest sentence needs, but most of its sentences
end well before: on models trained for a few epochs, a batch of 128 sentences spends most of
its steps with fewer than ten of them left, and on a CPU such a step still costs about a fifth
of a full one (its few hundred small operations take as long whatever the rows). So once a
batch is down to a quarter of the sentences it started with, it is set aside at its step
``t``; the next batch decodes on its own up to step ``t``, and from then on the two are one
search: their self-attention caches hold ``t`` positions each and join row by row, and
their sources are padded to the longer one. A batch is handed back as soon as all its
sentences are done, so batches may come back out of order. The hypotheses are those of
decoding each batch on its own, up to floating-point rounding.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

from .search_state import Search, join_searches

if TYPE_CHECKING:
    from .sequence_generator import SequenceGenerator

#: a search is set aside for the next batch once at most this fraction of its widest batch is left
TAIL_FRACTION = 0.25

Hypotheses = list[list[dict[str, Any]]]


@dataclass(eq=False)  # batches are told apart by identity
class _Batch:
    """One batch of the caller's, while some of its sentences are still searched."""

    sample: dict[str, Any]
    first: int  # its first sentence's index in its search's storage
    size: int
    live: int


class _Run:
    """A search and the batches whose sentences it holds."""

    def __init__(self, search: Search, sample: dict[str, Any]) -> None:
        self.search = search
        self.batches = [_Batch(sample, 0, search.live, search.live)]
        self.owner = [self.batches[0]] * search.live  # storage index -> its batch
        self.widest = search.live
        self.alive = True

    def step(self, generator: SequenceGenerator) -> Iterator[tuple[dict[str, Any], Hypotheses]]:
        """Decode one step; yield the batches it completes."""
        finished = generator.advance(self.search)
        if finished is None:  # the last step: every sentence still searched ended in it
            self.alive, finished = False, self.search.sentence_ids
        if finished.numel() == 0:
            return
        for sentence in finished.tolist():
            batch = self.owner[sentence]
            batch.live -= 1
            if batch.live == 0:
                self.batches.remove(batch)
                yield batch.sample, self.search.finalized.to_lists(batch.first, batch.first + batch.size)

    def absorb(self, generator: SequenceGenerator, later: _Run) -> None:
        """Make this run's search hold ``later``'s live sentences too (both at the same step)."""
        kept = [i for b in self.batches for i in range(b.first, b.first + b.size)]
        device = self.search.sentence_ids.device
        search = join_searches(self.search, later.search, torch.tensor(kept, device=device), generator.pad)
        model = generator.model
        search.encoder_outs = model.merge_encoder_outs(self.search.encoder_outs, later.search.encoder_outs)
        search.states = model.merge_states(self.search.states, later.search.states)
        first = 0
        for b in self.batches:  # their storage is now packed in this order
            b.first, first = first, first + b.size
        for b in later.batches:
            b.first += len(kept)
        self.batches += later.batches
        self.owner = [b for b in self.batches for _ in range(b.size)]
        self.widest = max(self.widest, later.widest)
        self.search = search

    def is_tail(self) -> bool:
        """Whether so few sentences are left that they should wait for the next batch."""
        return self.search.live <= TAIL_FRACTION * self.widest


def merged_batches(
    generator: SequenceGenerator, samples: Iterable[dict[str, Any]]
) -> Iterator[tuple[dict[str, Any], Hypotheses]]:
    """Yield ``(sample, hypotheses)`` per batch, decoding each batch's tail with the next batch."""
    waiting: _Run | None = None
    for sample in samples:
        search = generator.start(sample)
        if search is None:
            yield sample, []
            continue
        run = _Run(search, sample)
        if waiting is not None:
            while run.alive and run.search.step < waiting.search.step:
                yield from run.step(generator)
            if not run.alive:
                continue  # the new batch ended first; the waiting one waits for the next
            waiting.absorb(generator, run)
            run, waiting = waiting, None
        while run.alive and not run.is_tail():
            yield from run.step(generator)
        if run.alive:
            waiting = run
    while waiting is not None and waiting.alive:
        yield from waiting.step(generator)
