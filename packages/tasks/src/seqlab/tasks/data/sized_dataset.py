"""A dataset whose examples' sizes are one array of token counts."""

from __future__ import annotations

import numpy as np

from seqlab.core.data import BaseDataset


class SizedDataset(BaseDataset):
    """Answers the size queries of batching from ``self._sizes``, which subclasses set in ``__init__``."""

    _sizes: np.ndarray

    @property
    def sizes(self) -> np.ndarray:
        """Every example's length in tokens."""
        return self._sizes

    def num_tokens(self, index: int) -> int:
        """The example's length in tokens."""
        return int(self._sizes[index])

    def num_tokens_vec(self, indices: np.ndarray) -> np.ndarray:
        """The lengths of many examples."""
        return self._sizes[indices]

    def size(self, index: int) -> int:
        """The example's length in tokens."""
        return int(self._sizes[index])
