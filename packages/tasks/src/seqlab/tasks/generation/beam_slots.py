"""Where each of a sentence's next K hypotheses sits in the beam: as often as possible, in its parent's slot.

The K hypotheses of a sentence are a set: their order within the beam changes neither
the next step's candidates nor the result. Beam search used to put them in score order,
so that after each step most cache rows held another hypothesis' past and every decoder
cache was gathered anew. Putting each parent's best child back in its parent's slot
leaves those rows where they are: a cache that copies only the rows that changed
(:class:`~seqlab.models.modules.kv_cache.KVCache` on the CPU) then copies K minus the
number of distinct parents per sentence, which is most often few of them.
"""

from __future__ import annotations

import torch


def parent_slot_order(parents: torch.Tensor) -> torch.Tensor:
    """A per-row permutation (B x K) of K candidates that puts each parent's best child in the parent's slot.

    ``parents`` (B x K) holds, for each sentence's K chosen candidates in rank order, the
    slot (0..K-1) of the hypothesis each extends. Slot ``j`` of the result takes candidate
    ``perm[:, j]``. The first candidate of each parent takes that parent's slot; the other
    candidates fill the remaining slots in rank and slot order, so the permutation is a
    pure function of ``parents``.
    """
    bsz, beam = parents.shape
    slots = torch.arange(beam, device=parents.device)
    same_parent = parents.unsqueeze(2).eq(parents.unsqueeze(1))
    # candidate c is its parent's first if no better-ranked c' < c has the same parent
    first_child = ~(same_parent & (slots.unsqueeze(1) > slots.unsqueeze(0))).any(dim=2)
    claimed = (first_child.unsqueeze(2) & parents.unsqueeze(2).eq(slots)).any(dim=1)
    # the unclaimed slots first, each group in slot order
    free_slots = (claimed.long() * beam + slots).argsort(dim=1)
    later_rank = (~first_child).long().cumsum(dim=1) - 1
    slot = torch.where(first_child, parents, free_slots.gather(1, later_rank.clamp(min=0)))
    return torch.empty_like(parents).scatter_(1, slot, slots.expand(bsz, beam))
