"""Where hypotheses sit in the batch between beam steps: as often as possible, where they were.

The K hypotheses of a sentence are a set: their order within the beam changes neither
the next step's candidates nor the result, and neither does the order of the sentences.
Putting hypotheses in score order and compacting the batch in sentence order would move
most rows every step, and every decoder cache would be gathered anew. Instead each
parent's best child takes its parent's slot, and sentences from the end of the batch take
the places of those that leave: a cache that copies only the rows that change
(``seqlab.models.modules.row_reorder``, used on the CPU) then copies few of them.
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


def sentences_kept_in_place(done: torch.Tensor) -> torch.Tensor:
    """The batch positions of the sentences that go on, as the new batch order.

    Those among the first ``len(keep)`` positions stay where they are, and those beyond move
    into the places of the sentences that left, so that only their rows change.
    """
    keep = (~done).nonzero().squeeze(1)  # ascending; the step's one synchronisation
    kept = keep.numel()
    if kept == 0:
        return keep
    holes = done[:kept]
    hole_rank = holes.long().cumsum(0)
    # the j-th hole takes the j-th sentence beyond the first `kept` places: keep's last ones
    movers = keep.gather(0, (kept - hole_rank[-1] + hole_rank - 1).clamp(0, kept - 1))
    return torch.where(holes, movers, torch.arange(kept, device=done.device))
