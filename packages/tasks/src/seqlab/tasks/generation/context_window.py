"""Language-model evaluation with context: each block is scored after the tokens that precede it.

``--context-window N`` prepends up to N earlier input tokens to every block of
``--tokens-per-sample`` tokens; only the block's own tokens are scored, so every token is
scored once, with up to N + its position in the block tokens of history. The context of a
block is read from the blocks before it in the corpus, so it does not depend on the order
in which batches are formed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from seqlab.core.data import BaseDataset, collate_tokens


class ContextWindowDataset(BaseDataset):
    """Wraps a dataset of ``{"id", "source", "target"}`` LM blocks, in corpus order."""

    def __init__(self, dataset: Any, context_window: int, pad: int) -> None:
        self.dataset = dataset
        self.context_window = context_window
        self.pad = pad
        self._before = np.concatenate([[0], np.cumsum(np.asarray(dataset.sizes, dtype=np.int64))])

    def __len__(self) -> int:
        return len(self.dataset)

    def _context(self, index: int) -> torch.Tensor:
        # the model input before this block's is the earlier blocks' inputs, back to back
        parts: list[torch.Tensor] = []
        need, j = self.context_window, index - 1
        while need > 0 and j >= 0:
            source = self.dataset[j]["source"]
            parts.append(source[-need:])
            need -= len(parts[-1])
            j -= 1
        if not parts:
            return torch.empty(0, dtype=torch.long)
        return torch.cat(parts[::-1]).long()

    def __getitem__(self, index: int) -> dict[str, Any]:
        item = self.dataset[index]
        context = self._context(index)
        return {
            "id": index,
            "source": torch.cat([context, item["source"].long()]),
            "target": torch.cat([context.new_full((len(context),), self.pad), item["target"].long()]),
            "scored": len(item["target"]),
        }

    def collater(self, samples: list[dict[str, Any]]) -> dict[str, Any]:
        """An LM mini-batch whose targets are ``<pad>`` at the context positions."""
        if not samples:
            return {}
        return {
            "id": torch.tensor([s["id"] for s in samples], dtype=torch.long),
            "nsentences": len(samples),
            "ntokens": int(sum(s["scored"] for s in samples)),
            "net_input": {
                "src_tokens": collate_tokens([s["source"] for s in samples], self.pad, left_pad=False),
                "src_lengths": torch.tensor([len(s["source"]) for s in samples], dtype=torch.long),
            },
            "target": collate_tokens([s["target"] for s in samples], self.pad, left_pad=False),
        }

    def _lengths(self, indices: np.ndarray) -> np.ndarray:
        indices = np.asarray(indices, dtype=np.int64)
        sizes = np.asarray(self.dataset.num_tokens_vec(indices), dtype=np.int64)
        return sizes + np.minimum(self._before[indices], self.context_window)

    @property
    def sizes(self) -> np.ndarray:
        """Every example's length with its context."""
        return self._lengths(np.arange(len(self)))

    def num_tokens(self, index: int) -> int:
        """The example's length with its context."""
        return int(self._lengths(np.array([index]))[0])

    def num_tokens_vec(self, indices: np.ndarray) -> np.ndarray:
        """The lengths of many examples with their context."""
        return self._lengths(indices)

    def size(self, index: int) -> int:
        """The example's length with its context."""
        return self.num_tokens(index)

    def ordered_indices(self) -> np.ndarray:
        """Corpus order."""
        return np.arange(len(self), dtype=np.int64)
