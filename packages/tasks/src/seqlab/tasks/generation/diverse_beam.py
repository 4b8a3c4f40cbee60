"""Diverse beam search (Vijayakumar et al., 2016), fairseq's ``--diverse-beam-groups``.

The K hypotheses of a sentence form G groups of K/G, hypothesis ``j`` in group ``j mod G``.
Each group searches on its own with a beam of K/G, and group ``g`` first subtracts
``strength`` times the number of times each token is among the candidates the groups
before it chose at this step, so that the groups go different ways. The candidates of the
groups are interleaved (the first of each group, then the second of each...) and the
search goes on from them as from plain beam search's; the penalties stay in the scores,
as in fairseq. Since a hypothesis' group is its slot, the search must keep hypotheses in
candidate order rather than in their parents' slots.
"""

from __future__ import annotations

import torch

from .search import beam_candidates


def diverse_beam_candidates(
    step: int,
    lprobs: torch.Tensor,
    prev_scores: torch.Tensor | None,
    beam: int,
    groups: int,
    strength: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(scores, tokens, beams)``, each B x 2*K: every group's 2*K/G best candidates, interleaved.

    ``lprobs`` is B x K x V, or B x 1 x V at step 0, when every hypothesis is the same.
    """
    bsz, _, vocab = lprobs.shape
    size = beam // groups
    chosen = lprobs.new_zeros(bsz, vocab)  # how often earlier groups chose each token this step
    per_group = []
    for g in range(groups):
        if step == 0:
            group_lprobs, group_prev = lprobs[:, :1, :], None
        else:
            group_lprobs = lprobs[:, g::groups, :]
            group_prev = prev_scores[:, g::groups] if prev_scores is not None else None
        if g > 0:
            group_lprobs = group_lprobs - strength * chosen.unsqueeze(1)
        scores, tokens, beams = beam_candidates(step, group_lprobs, group_prev, size)
        # impossible candidates (-inf) carry arbitrary tokens: they choose nothing
        chosen.scatter_add_(1, tokens, torch.isfinite(scores).to(chosen.dtype))
        per_group.append((scores, tokens, beams * groups + g))
    scores, tokens, beams = (torch.stack(parts, dim=2).view(bsz, -1) for parts in zip(*per_group))
    return scores, tokens, beams
