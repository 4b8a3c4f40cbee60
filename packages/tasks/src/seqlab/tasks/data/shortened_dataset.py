"""``--shorten-method``: language-model sentences longer than ``--tokens-per-sample`` cut to it.

``truncate`` keeps each long sentence's first tokens; ``random_crop`` keeps a window drawn
afresh every epoch, from numpy seeded with ``(--seed, epoch - 1, index)`` as fairseq seeds its
epoch 0: the first epoch crops fairseq's windows (fairseq 0.12's task never passes the epoch
on, so it keeps them all run), later epochs new ones, and a resumed run crops as an
uninterrupted one. Like fairseq's, a window never starts at the last possible place
(``randint(0, excess)``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from seqlab.core.data.seeding import numpy_seed

from .sized_dataset import SizedDataset


class ShortenedDataset(SizedDataset):
    """Sentence ``i`` of ``dataset``, at most ``limit`` tokens of it (its start, or a random window)."""

    def __init__(self, dataset: Any, sizes: np.ndarray, limit: int, random_crop: bool, seed: int) -> None:
        if limit < 1:
            raise ValueError(f"sentences must keep at least one token; the limit is {limit}")
        self.dataset, self.limit, self.random_crop, self.seed = dataset, limit, random_crop, seed
        self._sizes = np.minimum(np.asarray(sizes), limit)
        self.epoch = 1

    def set_epoch(self, epoch: int) -> None:
        """Draw this epoch's windows (``random_crop``) and pass the epoch on."""
        self.epoch = epoch
        if hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> torch.Tensor:
        item = self.dataset[index]
        excess = len(item) - self.limit
        if excess <= 0:
            return item
        if not self.random_crop:
            return item[: self.limit]
        with numpy_seed(self.seed, self.epoch - 1, index):  # fairseq draws its (only) windows at epoch 0
            start = int(np.random.randint(0, excess))
        return item[start : start + self.limit]


def maybe_shorten(
    dataset: Any, sizes: np.ndarray, split: str, method: str, splits: str, limit: int, seed: int
) -> tuple[Any, np.ndarray]:
    """``dataset`` and its sizes, shortened when ``method`` is not ``none`` and ``split`` is listed
    in ``splits`` (comma-separated; empty means every split), as fairseq's maybe_shorten_dataset."""
    listed = not splits or split in splits.split(",")
    if method == "none" or not listed:
        return dataset, sizes
    shortened = ShortenedDataset(dataset, sizes, limit, method == "random_crop", seed)
    return shortened, shortened.sizes
