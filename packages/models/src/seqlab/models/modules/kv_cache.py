"""Key/value cache for incremental decoding: preallocated buffers that grow by doubling.

Appending a step writes into free capacity, so the past is never copied per step;
when the buffer is full its capacity doubles, which costs one copy of the past and
keeps the amortised cost of an append constant. Beam search reorders rows by gathering
only the positions filled so far into a second buffer of the same shape, which then
becomes the cache: no allocation per step, and no copy of the unused capacity. On the
CPU, when at most half of the rows change, only those are copied, in place
(:mod:`.row_reorder`).

The buffers are stored position-major (B x capacity x H x D) and handed out as
B x H x T x D views. A row's filled positions are then one contiguous block for all heads:
a reorder copies one block per row instead of one per head, attention reads each row's
keys from one place, and the first steps touch only the memory pages they fill (head-major,
every head's block of a row starts on its own page, so filling position 0 touched them all).
"""

from __future__ import annotations

import torch

from .row_reorder import reorder_rows_in_place

#: capacity of a fresh cache, in positions; small enough to be free, large enough to skip early regrowth
INITIAL_CAPACITY = 16


class KVCache:
    """The keys and values (B x H x T x D) of the positions a self-attention has seen so far."""

    def __init__(self) -> None:
        # B x capacity x H x D
        self._keys: torch.Tensor | None = None
        self._values: torch.Tensor | None = None
        self.length = 0
        # the buffers the next reorder gathers into (the previous cache, recycled)
        self._spare: tuple[torch.Tensor, torch.Tensor] | None = None

    @property
    def keys(self) -> torch.Tensor | None:
        """The whole key buffer as a B x H x capacity x D view (positions past ``length`` unset)."""
        return None if self._keys is None else self._keys.transpose(1, 2)

    @property
    def values(self) -> torch.Tensor | None:
        """The whole value buffer as a B x H x capacity x D view (positions past ``length`` unset)."""
        return None if self._values is None else self._values.transpose(1, 2)

    @property
    def capacity(self) -> int:
        """How many positions fit before the buffers must grow."""
        return 0 if self._keys is None else self._keys.size(1)

    def append(self, keys: torch.Tensor, values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Add the new positions' keys and values (B x H x T x D); return views of every position so far."""
        needed = self.length + keys.size(2)
        if needed > self.capacity:
            self._grow(keys, needed)
        assert self._keys is not None and self._values is not None
        self._keys[:, self.length : needed] = keys.transpose(1, 2)
        self._values[:, self.length : needed] = values.transpose(1, 2)
        self.length = needed
        return self._keys[:, :needed].transpose(1, 2), self._values[:, :needed].transpose(1, 2)

    def reorder(self, new_order: torch.Tensor) -> None:
        """Keep and reorder batch rows (beam search): row ``i`` becomes old row ``new_order[i]``."""
        if self._keys is None or self._values is None:
            return
        rows, n = new_order.numel(), self.length
        if reorder_rows_in_place((self._keys[:, :n], self._values[:, :n]), new_order):
            self._keys, self._values = self._keys[:rows], self._values[:rows]
            return
        spare = self._spare
        if spare is None or spare[0].size(0) < rows or spare[0].shape[1:] != self._keys.shape[1:]:
            spare = (
                self._keys.new_empty(rows, *self._keys.shape[1:]),
                self._values.new_empty(rows, *self._values.shape[1:]),
            )
        # a prefix of the rows of a buffer is itself a contiguous buffer of the same layout
        keys, values = spare[0][:rows], spare[1][:rows]
        torch.index_select(self._keys[:, :n], 0, new_order, out=keys[:, :n])
        torch.index_select(self._values[:, :n], 0, new_order, out=values[:, :n])
        self._spare = (self._keys, self._values)
        self._keys, self._values = keys, values

    def concat(self, other: KVCache) -> None:
        """Append ``other``'s rows after this cache's (both must hold the same number of positions)."""
        if other.length != self.length:
            raise ValueError(f"cannot merge a cache of {other.length} positions into one of {self.length}")
        if self._keys is None or self._values is None or other._keys is None or other._values is None:
            raise ValueError("cannot merge an empty key/value cache")
        n, first = self.length, self._keys.size(0)
        rows = first + other._keys.size(0)
        # the merged cache keeps the larger capacity, so that it regrows no sooner than either would
        keys = self._keys.new_empty(rows, max(self.capacity, other.capacity), *self._keys.shape[2:])
        values = self._values.new_empty(keys.shape)
        keys[:first, :n], keys[first:, :n] = self._keys[:, :n], other._keys[:, :n]
        values[:first, :n], values[first:, :n] = self._values[:, :n], other._values[:, :n]
        self._keys, self._values, self._spare = keys, values, None

    def _grow(self, like: torch.Tensor, needed: int) -> None:
        capacity = max(needed, 2 * self.capacity, INITIAL_CAPACITY)
        batch, heads, _, dim = like.shape
        keys = like.new_empty(batch, capacity, heads, dim)
        values = like.new_empty(batch, capacity, heads, dim)
        if self._keys is not None and self._values is not None and self.length:
            keys[:, : self.length] = self._keys[:, : self.length]
            values[:, : self.length] = self._values[:, : self.length]
        self._keys, self._values = keys, values
        self._spare = None
