"""Datasets, batching and epoch iterators shared by every task.

``BaseDataset`` (alias ``FairseqDataset``) is the contract; ``batch_by_size``
groups length-sorted indices into batches; ``EpochBatchIterator`` shuffles,
shards and resumes them.
"""

from __future__ import annotations

from .base_dataset import BaseDataset, FairseqDataset, size_fits
from .batching import batch_by_size
from .collate import collate_tokens
from .iterators import CountingIterator, EpochBatchIterator, GroupedIterator
from .seeding import numpy_seed
from .sharding import EMPTY_BATCH, shard_batches, shard_count

__all__ = [
    "EMPTY_BATCH",
    "BaseDataset",
    "CountingIterator",
    "EpochBatchIterator",
    "FairseqDataset",
    "GroupedIterator",
    "batch_by_size",
    "collate_tokens",
    "numpy_seed",
    "shard_batches",
    "shard_count",
    "size_fits",
]
