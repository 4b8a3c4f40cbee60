"""One search step: the candidate continuations of every sentence's hypotheses, vectorised.

Both strategies return ``(scores, tokens, beams)``, each B x C: the cumulative score of
a candidate, its next token, and which of the sentence's K hypotheses it extends. A
hypothesis that is dead (finished or impossible) carries the score ``-inf`` and yields
only ``-inf`` candidates. At step 0 every hypothesis of a sentence is the same, so beam
search expands only the first one.
"""

from __future__ import annotations

import torch

NEG_INF = float("-inf")


def beam_candidates(
    step: int, lprobs: torch.Tensor, prev_scores: torch.Tensor | None, beam: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The 2*K best continuations over all K hypotheses x V tokens of each sentence (one top-k)."""
    bsz, _, vocab = lprobs.shape
    if step == 0:
        lprobs = lprobs[:, :1, :]
    elif prev_scores is not None:
        lprobs = lprobs + prev_scores.unsqueeze(2)
    flat = lprobs.reshape(bsz, -1)
    # 2*K: even if K of them end the sentence, K live ones remain
    scores, index = flat.topk(min(2 * beam, flat.size(1)), dim=1)
    scores, index = _at_least(scores, index, beam)
    return scores, index % vocab, torch.div(index, vocab, rounding_mode="floor")


def sample_candidates(
    step: int,
    lprobs: torch.Tensor,
    prev_scores: torch.Tensor | None,
    topk: int = -1,
    topp: float = -1.0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One sampled continuation per hypothesis; the score is the model's log-probability of it."""
    bsz, beam, vocab = lprobs.shape
    if step == 0:
        # K independent draws from the one start: K samples of the same distribution
        lprobs = lprobs[:, :1, :].expand(bsz, beam, vocab)
    flat = lprobs.reshape(bsz * beam, vocab)
    if topp > 0:
        probs, choices = _top_p(flat.exp(), topp)
    elif topk > 0:
        top, choices = flat.topk(min(topk, vocab), dim=1)
        probs = top.exp()
    else:
        probs, choices = flat.exp(), None
    dead = probs.sum(dim=1).eq(0)
    # multinomial needs some mass in every row; a dead row draws anything and keeps the score -inf
    probs[:, 0] = torch.where(dead, 1.0, probs[:, 0])
    drawn = torch.multinomial(probs, 1).squeeze(1)
    tokens = drawn if choices is None else choices.gather(1, drawn.unsqueeze(1)).squeeze(1)
    scores = flat.gather(1, tokens.unsqueeze(1)).squeeze(1).masked_fill(dead, NEG_INF).view(bsz, beam)
    if prev_scores is not None and step > 0:
        scores = scores + prev_scores
    beams = torch.arange(beam, device=tokens.device).expand(bsz, beam)
    return scores, tokens.view(bsz, beam), beams


def _top_p(probs: torch.Tensor, p: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Probabilities of the smallest most-likely set reaching ``p`` (others 0), in sorted order."""
    sorted_probs, order = probs.sort(dim=1, descending=True)
    before = sorted_probs.cumsum(dim=1) - sorted_probs
    # keep each token whose predecessors have not reached p yet: the set includes the one crossing p
    return sorted_probs.masked_fill(before >= p, 0.0), order


def _at_least(scores: torch.Tensor, index: torch.Tensor, count: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Pad the candidates with impossible ones (-inf) up to ``count`` columns (tiny vocabularies)."""
    missing = count - scores.size(1)
    if missing <= 0:
        return scores, index
    pad_scores = scores.new_full((scores.size(0), missing), NEG_INF)
    return torch.cat([scores, pad_scores], 1), torch.cat([index, index.new_zeros(scores.size(0), missing)], 1)
