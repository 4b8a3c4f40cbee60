"""What a data-loader worker process receives: one batch in, one collated mini-batch out."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from typing import Any

import numpy as np
import torch.utils.data

from ..user_dir import import_user_dirs_from_env


class BatchFetcher(torch.utils.data.Dataset):
    """Reads the examples of one batch of indices and collates them."""

    def __init__(self, dataset: Any, collate_fn: Callable[[list[Any]], Any]) -> None:
        self.dataset = dataset
        self.collate_fn = collate_fn

    def __getitem__(self, batch: np.ndarray) -> Any:
        return self.collate_fn([self.dataset[int(i)] for i in batch])

    def __len__(self) -> int:
        return len(self.dataset)

    def __reduce__(self) -> tuple[Any, ...]:
        payload = pickle.dumps((self.dataset, self.collate_fn))
        return (_restore_fetcher, (payload,))


def _restore_fetcher(payload: bytes) -> BatchFetcher:
    # Plugins from --user-dir must be importable before the dataset's classes are unpickled.
    import_user_dirs_from_env()
    dataset, collate_fn = pickle.loads(payload)
    return BatchFetcher(dataset, collate_fn)


def identity(sample: Any) -> Any:
    """Return the sample unchanged (the batch is collated inside the worker already)."""
    return sample
