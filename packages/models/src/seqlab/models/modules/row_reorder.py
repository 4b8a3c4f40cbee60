"""Reorder a decoder cache's batch rows in place when few of them change (beam search on the CPU).

Beam search keeps most hypotheses in their rows: a parent's best child takes the parent's
row, and a sentence leaving the batch is replaced by one from the end of the batch (see
``seqlab.tasks.generation``). Gathering every row into a new buffer then copies mostly
rows onto themselves; copying only the changed ones reads and writes a fraction of it.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def reorder_rows_in_place(buffers: Sequence[torch.Tensor], new_order: torch.Tensor) -> bool:
    """Make row ``i`` of each buffer its old row ``new_order[i]`` if at most half the rows change.

    Rows past ``new_order``'s length are left as they are: the caller keeps the first
    ``len(new_order)`` rows. Returns False, touching nothing, when a full gather is cheaper
    (a moved row is read and written twice, through a copy, since its source may move too)
    or when ``new_order`` is not on the CPU, where finding the changed rows would cost the
    accelerator a synchronisation per call.
    """
    rows = new_order.numel()
    if new_order.device.type != "cpu" or any(rows > buffer.size(0) for buffer in buffers):
        return False
    moved = new_order.ne(torch.arange(rows)).nonzero().squeeze(1)
    if 2 * moved.numel() > rows:
        return False
    if moved.numel():
        sources = new_order.index_select(0, moved)
        for buffer in buffers:
            buffer.index_copy_(0, moved, buffer.index_select(0, sources))
    return True
