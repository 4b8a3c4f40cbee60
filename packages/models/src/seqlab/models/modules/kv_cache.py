"""Key/value cache for incremental decoding: preallocated buffers that grow by doubling.

Appending a step writes into free capacity, so the past is never copied per step;
when the buffer is full its capacity doubles, which costs one copy of the past and
keeps the amortised cost of an append constant. Beam search reorders rows with one
``index_select`` on the batch dimension.
"""

from __future__ import annotations

import torch

#: capacity of a fresh cache, in positions; small enough to be free, large enough to skip early regrowth
INITIAL_CAPACITY = 16


class KVCache:
    """The keys and values (B x H x T x D) of the positions a self-attention has seen so far."""

    def __init__(self) -> None:
        self.keys: torch.Tensor | None = None
        self.values: torch.Tensor | None = None
        self.length = 0

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
        self.keys = self.keys.index_select(0, new_order)
        self.values = self.values.index_select(0, new_order)

    def _grow(self, like: torch.Tensor, needed: int) -> None:
        capacity = max(needed, 2 * self.capacity, INITIAL_CAPACITY)
        batch, heads, _, dim = like.shape
        keys = like.new_empty(batch, heads, capacity, dim)
        values = like.new_empty(batch, heads, capacity, dim)
        if self.keys is not None and self.values is not None and self.length:
            keys[:, :, : self.length] = self.keys[:, :, : self.length]
            values[:, :, : self.length] = self.values[:, :, : self.length]
        self.keys, self.values = keys, values
