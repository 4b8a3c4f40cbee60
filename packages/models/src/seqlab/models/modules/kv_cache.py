"""Key/value cache for incremental decoding: preallocated buffers that grow by doubling.

Appending a step writes into free capacity, so the past is never copied per step;
when the buffer is full its capacity doubles, which costs one copy of the past and
keeps the amortised cost of an append constant. Beam search reorders rows by gathering
only the positions filled so far into a second buffer of the same shape, which then
becomes the cache: no allocation per step, and no copy of the unused capacity. On the
CPU, when at most half of the rows change, only those are copied, in place
(:mod:`.row_reorder`).
"""

from __future__ import annotations

import torch

from .row_reorder import reorder_rows_in_place

#: capacity of a fresh cache, in positions; small enough to be free, large enough to skip early regrowth
INITIAL_CAPACITY = 16


class KVCache:
    """The keys and values (B x H x T x D) of the positions a self-attention has seen so far."""

    def __init__(self) -> None:
        self.keys: torch.Tensor | None = None
        self.values: torch.Tensor | None = None
        self.length = 0
        # the buffers the next reorder gathers into (the previous cache, recycled)
        self._spare: tuple[torch.Tensor, torch.Tensor] | None = None

    @property
    def capacity(self) -> int:
        """How many positions fit before the buffers must grow."""
        return 0 if self.keys is None else self.keys.size(2)

    def append(self, keys: torch.Tensor, values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Add the new positions' keys and values; return views of every position so far."""
        needed = self.length + keys.size(2)
        if needed > self.capacity:
            self._grow(keys, needed)
        assert self.keys is not None and self.values is not None
        self.keys[:, :, self.length : needed] = keys
        self.values[:, :, self.length : needed] = values
        self.length = needed
        return self.keys[:, :, :needed], self.values[:, :, :needed]

    def reorder(self, new_order: torch.Tensor) -> None:
        """Keep and reorder batch rows (beam search): row ``i`` becomes old row ``new_order[i]``."""
        if self.keys is None or self.values is None:
            return
        rows, n = new_order.numel(), self.length
        if reorder_rows_in_place((self.keys[:, :, :n], self.values[:, :, :n]), new_order):
            self.keys, self.values = self.keys[:rows], self.values[:rows]
            return
        spare = self._spare
        if spare is None or spare[0].size(0) < rows or spare[0].shape[1:] != self.keys.shape[1:]:
            spare = (
                self.keys.new_empty(rows, *self.keys.shape[1:]),
                self.values.new_empty(rows, *self.values.shape[1:]),
            )
        # a prefix of the rows of a buffer is itself a contiguous buffer of the same layout
        keys, values = spare[0][:rows], spare[1][:rows]
        torch.index_select(self.keys[:, :, :n], 0, new_order, out=keys[:, :, :n])
        torch.index_select(self.values[:, :, :n], 0, new_order, out=values[:, :, :n])
        self._spare = (self.keys, self.values)
        self.keys, self.values = keys, values

    def _grow(self, like: torch.Tensor, needed: int) -> None:
        capacity = max(needed, 2 * self.capacity, INITIAL_CAPACITY)
        batch, heads, _, dim = like.shape
        keys = like.new_empty(batch, heads, capacity, dim)
        values = like.new_empty(batch, heads, capacity, dim)
        if self.keys is not None and self.values is not None and self.length:
            keys[:, :, : self.length] = self.keys[:, :, : self.length]
            values[:, :, : self.length] = self.values[:, :, : self.length]
        self.keys, self.values = keys, values
        self._spare = None
