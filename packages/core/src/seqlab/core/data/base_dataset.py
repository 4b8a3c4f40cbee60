"""The dataset contract that batching and epoch iterators rely on (fairseq's ``FairseqDataset``)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch.utils.data

from .batching import batch_by_size


class BaseDataset(torch.utils.data.Dataset):
    """A map-style dataset of examples that knows each example's size and how to collate a batch."""

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must implement __len__")

    def collater(self, samples: list[Any]) -> Any:
        """Merge a list of examples into a mini-batch (an empty list gives ``{}``)."""
        raise NotImplementedError(f"{type(self).__name__} must implement collater")

    def num_tokens(self, index: int) -> int:
        """The example's length in tokens, as ``--max-tokens`` counts it."""
        raise NotImplementedError(f"{type(self).__name__} must implement num_tokens")

    def num_tokens_vec(self, indices: np.ndarray) -> np.ndarray:
        """``num_tokens`` of many examples at once."""
        return np.fromiter((self.num_tokens(int(i)) for i in indices), dtype=np.int64, count=len(indices))

    def size(self, index: int) -> Any:
        """The example's size as ``max_positions`` is compared with (an int or a tuple)."""
        raise NotImplementedError(f"{type(self).__name__} must implement size")

    @property
    def sizes(self) -> np.ndarray:
        """Every example's size, for vectorised filtering and sorting."""
        raise NotImplementedError(f"{type(self).__name__} has no sizes array")

    def ordered_indices(self) -> np.ndarray:
        """The order in which batches are formed (length-sorted datasets override this)."""
        return np.arange(len(self), dtype=np.int64)

    @property
    def supports_prefetch(self) -> bool:
        """Whether :meth:`prefetch` must be called before reading."""
        return False

    def prefetch(self, indices: np.ndarray) -> None:
        """Load the given examples ahead of reading (for datasets on slow storage)."""
        raise NotImplementedError(f"{type(self).__name__} does not support prefetch")

    def set_epoch(self, epoch: int) -> None:
        """Called at the start of every epoch (datasets that change per epoch override it)."""

    @property
    def can_reuse_epoch_itr_across_epochs(self) -> bool:
        """Whether the batches are the same every epoch, so an iterator can be reused."""
        return False

    def batch_by_size(
        self,
        indices: np.ndarray,
        max_tokens: int | None = None,
        max_sentences: int | None = None,
        required_batch_size_multiple: int = 1,
    ) -> list[np.ndarray]:
        """Group ``indices`` (in order) into batches within the token and sentence limits."""
        return batch_by_size(
            indices,
            num_tokens_vec=self.num_tokens_vec(np.asarray(indices, dtype=np.int64)),
            max_tokens=max_tokens,
            max_sentences=max_sentences,
            required_batch_size_multiple=required_batch_size_multiple,
        )

    def filter_indices_by_size(self, indices: np.ndarray, max_sizes: Any) -> tuple[np.ndarray, np.ndarray]:
        """Split ``indices`` into those whose size fits ``max_sizes`` and those that do not."""
        indices = np.asarray(indices, dtype=np.int64)
        if isinstance(max_sizes, (int, float)):
            sizes = self._plain_sizes()
            if sizes is not None:
                too_long = sizes[indices] > max_sizes
                return indices[~too_long], indices[too_long]
        keep = np.fromiter(
            (size_fits(self.size(int(i)), max_sizes) for i in indices), dtype=bool, count=len(indices)
        )
        return indices[keep], indices[~keep]

    def _plain_sizes(self) -> np.ndarray | None:
        try:
            sizes = self.sizes
        except NotImplementedError:
            return None
        return sizes if isinstance(sizes, np.ndarray) and sizes.ndim == 1 else None


def size_fits(size: Any, max_sizes: Any) -> bool:
    """Tell whether an example's size fits ``max_sizes`` (None anywhere means no limit)."""
    if max_sizes is None or size is None:
        return True
    if isinstance(max_sizes, (int, float)):
        if isinstance(size, (tuple, list)):
            return all(s is None or s <= max_sizes for s in size)
        return size <= max_sizes
    if isinstance(max_sizes, dict):
        if isinstance(size, dict):
            return all(size_fits(size.get(k), v) for k, v in max_sizes.items())
        return all(size_fits(size, v) for v in max_sizes.values())
    if not isinstance(size, (tuple, list)):
        size = (size,) * len(max_sizes)
    return all(size_fits(s, m) for s, m in zip(size, max_sizes))


#: fairseq's name, so that ported datasets subclass it unchanged
FairseqDataset = BaseDataset
