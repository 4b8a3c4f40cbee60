"""Language-model examples and their mini-batch: next-token targets for each block of text."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from seqlab.core.data import collate_tokens
from seqlab.core.dictionary import Dictionary

from .sized_dataset import SizedDataset


class MonolingualDataset(SizedDataset):
    """Wraps ``(source, target)`` blocks and collates them right-padded into LM mini-batches.

    With ``bos`` (fairseq's ``--add-bos-token``) both the source and the target of every block
    start with that symbol, as fairseq's MonolingualDataset prepends it.
    """

    def __init__(
        self,
        dataset: Any,
        sizes: np.ndarray,
        dictionary: Dictionary,
        shuffle: bool = True,
        bos: int | None = None,
    ) -> None:
        self.dataset = dataset
        self._sizes = np.asarray(sizes)
        self.dictionary = dictionary
        self.shuffle = shuffle
        self.bos = bos

    def __getitem__(self, index: int) -> dict[str, Any]:
        source, target = self.dataset[index]
        if self.bos is not None:
            first = torch.tensor([self.bos], dtype=source.dtype)
            source, target = torch.cat([first, source]), torch.cat([first.to(target.dtype), target])
        return {"id": index, "source": source, "target": target}

    def __len__(self) -> int:
        return len(self.dataset)

    def set_epoch(self, epoch: int) -> None:
        """Pass the epoch on to the blocks and their sentences."""
        if hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(epoch)

    def collater(self, samples: list[dict[str, Any]]) -> dict[str, Any]:
        """The mini-batch dict: ``id``, ``nsentences``, ``ntokens``, ``net_input``, ``target``."""
        if not samples:
            return {}
        pad, eos = self.dictionary.pad(), self.dictionary.eos()
        return {
            "id": torch.tensor([s["id"] for s in samples], dtype=torch.long),
            "nsentences": len(samples),
            "ntokens": int(sum(len(s["target"]) for s in samples)),
            "net_input": {
                "src_tokens": collate_tokens([s["source"] for s in samples], pad, eos, left_pad=False),
                "src_lengths": torch.tensor([s["source"].numel() for s in samples], dtype=torch.long),
            },
            "target": collate_tokens([s["target"] for s in samples], pad, eos, left_pad=False),
        }

    def ordered_indices(self) -> np.ndarray:
        """Indices sorted by length; ties in random order when shuffling."""
        keys = [np.random.permutation(len(self))] if self.shuffle else [np.arange(len(self))]
        keys.append(self._sizes)
        return np.lexsort(keys).astype(np.int64)

    @property
    def can_reuse_epoch_itr_across_epochs(self) -> bool:
        """The batches do not depend on the epoch."""
        return True
