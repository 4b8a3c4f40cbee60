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
#: columns per chunk in :func:`row_topk`: small enough that the chunks searched are few
#: columns, large enough that their maxima are one cheap pass
TOPK_CHUNK = 64


def beam_candidates(
    step: int,
    lprobs: torch.Tensor,
    prev_scores: torch.Tensor | None,
    beam: int,
    sibling_penalty: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The 2*K best continuations over all K hypotheses x V tokens of each sentence.

    ``lprobs`` (B x K x V) are log-probabilities. A sentence's 2*K best continuations are
    among each hypothesis' own 2*K best tokens, since a hypothesis adds the same score to all
    of its tokens: one top-k per hypothesis over V, then one per sentence over K x 2*K,
    instead of a pass adding scores to all K x V. With ``sibling_penalty`` (fairseq's
    ``--diversity-rate``, diverse siblings search, Li et al. 2016) a hypothesis' r-th best
    continuation loses ``r * sibling_penalty`` after step 0, so that the beam keeps the
    children of more parents; the penalty stays in the candidates' scores, as in fairseq.
    """
    if step == 0:
        lprobs, prev_scores = lprobs[:, :1, :], None
    bsz, hyps, vocab = lprobs.shape
    # 2*K: even if K of them end the sentence, K live ones remain
    width = min(2 * beam, vocab)
    top, tokens = row_topk(lprobs.reshape(bsz * hyps, vocab), width)
    top, tokens = top.view(bsz, hyps, width), tokens.view(bsz, hyps, width)
    if prev_scores is not None:
        top = top + prev_scores.unsqueeze(2)
    if sibling_penalty and step > 0:
        top = top - sibling_penalty * torch.arange(1, width + 1, device=top.device, dtype=top.dtype)
    flat = top.reshape(bsz, hyps * width)
    scores, index = flat.topk(min(2 * beam, flat.size(1)), dim=1)
    picked = tokens.reshape(bsz, hyps * width).gather(1, index)
    scores, index = _at_least(scores, index, beam)
    picked = torch.cat([picked, picked.new_zeros(bsz, index.size(1) - picked.size(1))], 1)
    return scores, picked, torch.div(index, width, rounding_mode="floor")


def row_topk(x: torch.Tensor, k: int, chunk: int = TOPK_CHUNK) -> tuple[torch.Tensor, torch.Tensor]:
    """``x.topk(k, dim=1)`` of a wide 2-d tensor, reading most of each row only once.

    Each row is cut into chunks of ``chunk`` columns: a row's k largest values lie in the k
    chunks with the largest maxima (a chunk holding one of them has a maximum at least the
    k-th largest value, and at most k chunks do), so one pass of maxima and a top-k over
    k x ``chunk`` columns replace a top-k over the whole row, which is several times slower on
    a CPU. Equal values may be returned in another order than ``topk`` returns them.
    """
    rows, width = x.shape
    chunks = width // chunk
    if chunks < 4 * k:
        return x.topk(k, dim=1)
    whole = chunks * chunk
    maxima = x[:, :whole].unfold(1, chunk, chunk).amax(dim=2)
    best_chunks = maxima.topk(k, dim=1).indices
    columns = best_chunks.unsqueeze(2) * chunk + torch.arange(chunk, device=x.device)
    columns = columns.view(rows, k * chunk)
    if whole < width:  # the last, partial chunk is always searched
        tail = torch.arange(whole, width, device=x.device).expand(rows, width - whole)
        columns = torch.cat([columns, tail], dim=1)
    values, at = x.gather(1, columns).topk(k, dim=1)
    return values, columns.gather(1, at)


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
