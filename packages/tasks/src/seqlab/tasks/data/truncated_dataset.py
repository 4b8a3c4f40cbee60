"""``--truncate-source``: sentences longer than a limit cut to it, still ending with ``</s>``."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .sized_dataset import SizedDataset


class TruncatedDataset(SizedDataset):
    """Sentence ``i`` of ``dataset``, its first ``limit - 1`` tokens and ``</s>`` when it is longer than ``limit``."""

    def __init__(self, dataset: Any, sizes: np.ndarray, limit: int, eos: int) -> None:
        if limit < 2:
            raise ValueError(f"a truncated sentence keeps at least one token and </s>; the limit is {limit}")
        self.dataset, self.limit, self.eos = dataset, limit, eos
        self._sizes = np.minimum(np.asarray(sizes), limit)

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> torch.Tensor:
        item = self.dataset[index]
        if len(item) <= self.limit:
            return item
        return torch.cat([item[: self.limit - 1], item.new_tensor([self.eos])])
