"""Finished hypotheses, kept in preallocated per-sentence slots and written with tensor ops.

A sentence keeps at most K finished hypotheses, the first K to finish in candidate order
(best first within a step). Converting to fairseq's lists of dicts happens once, after
the search.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

#: the tensors holding one entry per sentence, and those of them holding one per position too
_PER_SENTENCE = ("tokens", "positional", "scores", "lengths", "count")
_PER_POSITION = frozenset({"tokens", "positional"})


class FinalizedHypotheses:
    """Up to ``beam`` finished hypotheses per sentence: tokens, positional scores, score, length."""

    def __init__(self, num_sentences: int, beam: int, max_len: int, device: torch.device) -> None:
        self.beam = beam
        width = max_len + 1  # tokens and the final </s>
        self.tokens = torch.zeros(num_sentences, beam, width, dtype=torch.long, device=device)
        self.positional = torch.zeros(num_sentences, beam, width, device=device)
        self.scores = torch.zeros(num_sentences, beam, device=device)
        self.lengths = torch.zeros(num_sentences, beam, dtype=torch.long, device=device)
        self.count = torch.zeros(num_sentences, dtype=torch.long, device=device)

    def select(self, sentences: torch.Tensor) -> FinalizedHypotheses:
        """The storage of ``sentences`` only, in that order."""
        picked = FinalizedHypotheses.__new__(FinalizedHypotheses)
        picked.beam = self.beam
        for name in _PER_SENTENCE:
            setattr(picked, name, getattr(self, name).index_select(0, sentences))
        return picked

    def join(self, other: FinalizedHypotheses) -> FinalizedHypotheses:
        """This storage's sentences, then ``other``'s; the narrower is widened to the longer maximum length."""
        joined = FinalizedHypotheses.__new__(FinalizedHypotheses)
        joined.beam = self.beam
        width = max(self.tokens.size(2), other.tokens.size(2))
        for name in _PER_SENTENCE:
            mine, theirs = getattr(self, name), getattr(other, name)
            if name in _PER_POSITION:
                mine, theirs = (F.pad(t, (0, width - t.size(2))) for t in (mine, theirs))
            setattr(joined, name, torch.cat([mine, theirs]))
        return joined

    def slots(self, sentence_ids: torch.Tensor, ending: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """For candidates that end (B x C bool), their slot per sentence and whether a slot is free."""
        slot = self.count[sentence_ids].unsqueeze(1) + ending.long().cumsum(dim=1) - 1
        return slot, ending & slot.lt(self.beam)

    def add(
        self,
        step: int,
        sentence_ids: torch.Tensor,
        accepted: torch.Tensor,
        slot: torch.Tensor,
        rows: torch.Tensor,
        eos_scores: torch.Tensor,
        tokens: torch.Tensor,
        cum_scores: torch.Tensor,
        eos: int,
        len_penalty: float | None,
    ) -> None:
        """Store the accepted candidates (B x C): hypothesis ``rows`` ended with </s> at ``step``."""
        where = accepted.nonzero(as_tuple=True)
        if where[0].numel() == 0:
            return
        sent = sentence_ids[where[0]]
        place = slot[where]
        row = rows[where]
        total = eos_scores[where]
        length = step + 1
        hyp = tokens.index_select(0, row)[:, 1 : step + 1]
        cumulative = torch.cat([cum_scores.index_select(0, row)[:, :step], total.unsqueeze(1)], dim=1)
        positional = cumulative - torch.nn.functional.pad(cumulative[:, :-1], (1, 0))
        self.tokens[sent, place, :step] = hyp
        self.tokens[sent, place, step] = eos
        self.positional[sent, place, :length] = positional
        self.scores[sent, place] = total / length**len_penalty if len_penalty is not None else total
        self.lengths[sent, place] = length
        self.count.index_add_(0, sent, torch.ones_like(sent))

    def to_lists(self, start: int = 0, stop: int | None = None) -> list[list[dict[str, Any]]]:
        """Fairseq's output: per sentence (those from ``start`` to ``stop``), its hypotheses best first."""
        # plain lists, and each hypothesis a view of one packed tensor made by a single split:
        # indexing or slicing tensors once per hypothesis would cost more than the last decoding
        # steps of a batch of short sentences
        lengths = self.lengths[start:stop]
        filled = torch.arange(self.tokens.size(2), device=lengths.device) < lengths.unsqueeze(2)
        sizes = lengths.flatten().tolist()
        tokens = self.tokens[start:stop][filled].cpu().split(sizes)
        positional = self.positional[start:stop][filled].cpu().split(sizes)
        scores, count = self.scores[start:stop].tolist(), self.count[start:stop].tolist()
        out: list[list[dict[str, Any]]] = []
        for sent, n in enumerate(count):
            row_scores, first = scores[sent], sent * self.beam
            # best first; equal scores keep the order they finished in (a stable sort)
            order = sorted(range(min(n, self.beam)), key=row_scores.__getitem__, reverse=True)
            out.append(
                [
                    {
                        "tokens": tokens[first + j],
                        "score": row_scores[j],
                        "positional_scores": positional[first + j],
                        "attention": None,
                        "alignment": None,
                    }
                    for j in order
                ]
            )
        return out
