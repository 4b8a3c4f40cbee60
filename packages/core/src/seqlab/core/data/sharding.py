"""Deal an epoch's batches out to data-parallel workers, the same number to each."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import SeqlabError

#: the filler batch a shard gets when the batches do not divide evenly (collates to ``{}``)
EMPTY_BATCH = np.zeros(0, dtype=np.int64)


def shard_count(num_batches: int, num_shards: int) -> int:
    """How many batches each of ``num_shards`` shards gets: the ceiling of the share."""
    return -(-num_batches // num_shards)


def shard_batches(batches: Sequence[Any], num_shards: int, shard_id: int) -> list[Any]:
    """Return shard ``shard_id``'s batches: every ``num_shards``-th one, padded with empty batches.

    Every shard gets :func:`shard_count` batches so that data-parallel workers
    step together; a shard short of one gets an empty batch, which the dataset
    collates to ``{}`` and the trainer runs as a dummy step with no gradient.
    """
    if num_shards < 1 or not 0 <= shard_id < num_shards:
        raise SeqlabError(f"shard_id {shard_id} is not in [0, {num_shards}); check the distributed rank")
    mine = list(batches[shard_id::num_shards])
    missing = shard_count(len(batches), num_shards) - len(mine)
    return mine + [EMPTY_BATCH] * missing
