"""Parallel source/target sentences and the translation mini-batch of fairseq's contract."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from seqlab.core.data import BaseDataset, collate_tokens
from seqlab.core.dictionary import Dictionary


def collate(
    samples: list[dict[str, Any]],
    pad_idx: int,
    eos_idx: int,
    left_pad_source: bool = True,
    left_pad_target: bool = False,
    input_feeding: bool = True,
    pad_to_length: dict[str, int] | None = None,
) -> dict[str, Any]:
    """Merge ``{"id", "source", "target"}`` examples into a batch sorted by source length, longest first."""
    if not samples:
        return {}
    pad_to_length = pad_to_length or {}

    def merge(key: str, left_pad: bool, move_eos_to_beginning: bool = False) -> torch.Tensor:
        return collate_tokens(
            [s[key] for s in samples],
            pad_idx,
            eos_idx,
            left_pad,
            move_eos_to_beginning,
            pad_to_length=pad_to_length.get(key),
        )

    ids = torch.tensor([s["id"] for s in samples], dtype=torch.long)
    src_tokens = merge("source", left_pad_source)
    src_lengths = torch.tensor([s["source"].numel() for s in samples], dtype=torch.long)
    src_lengths, order = src_lengths.sort(descending=True, stable=True)
    batch: dict[str, Any] = {
        "id": ids.index_select(0, order),
        "nsentences": len(samples),
        "net_input": {"src_tokens": src_tokens.index_select(0, order), "src_lengths": src_lengths},
    }
    if samples[0].get("target") is not None:
        target = merge("target", left_pad_target).index_select(0, order)
        batch["target"] = target
        batch["ntokens"] = sum(s["target"].numel() for s in samples)
        if input_feeding:
            # teacher forcing: the decoder sees </s> then the target shifted right by one
            prev = merge("target", left_pad_target, move_eos_to_beginning=True)
            batch["net_input"]["prev_output_tokens"] = prev.index_select(0, order)
    else:
        batch["target"] = None
        batch["ntokens"] = int(src_lengths.sum())
    return batch


class LanguagePairDataset(BaseDataset):
    """Pairs of source and target sentences (the target may be absent, for generation)."""

    def __init__(
        self,
        src: Any,
        src_sizes: np.ndarray,
        src_dict: Dictionary,
        tgt: Any = None,
        tgt_sizes: np.ndarray | None = None,
        tgt_dict: Dictionary | None = None,
        left_pad_source: bool = True,
        left_pad_target: bool = False,
        shuffle: bool = True,
        input_feeding: bool = True,
    ) -> None:
        if tgt is not None and len(src) != len(tgt):
            raise ValueError(
                f"source and target have different numbers of sentences: {len(src)} and {len(tgt)}"
            )
        if tgt_dict is not None and (
            src_dict.pad() != tgt_dict.pad()
            or src_dict.eos() != tgt_dict.eos()
            or src_dict.unk() != tgt_dict.unk()
        ):
            raise ValueError("the source and target dictionaries must agree on <pad>, </s> and <unk>")
        self.src, self.tgt = src, tgt
        self.src_sizes = np.asarray(src_sizes)
        self.tgt_sizes = np.asarray(tgt_sizes) if tgt_sizes is not None else None
        self.src_dict, self.tgt_dict = src_dict, tgt_dict
        self.left_pad_source, self.left_pad_target = left_pad_source, left_pad_target
        self.shuffle = shuffle
        self.input_feeding = input_feeding

    def __getitem__(self, index: int) -> dict[str, Any]:
        return {
            "id": index,
            "source": self.src[index],
            "target": self.tgt[index] if self.tgt is not None else None,
        }

    def __len__(self) -> int:
        return len(self.src)

    def collater(
        self, samples: list[dict[str, Any]], pad_to_length: dict[str, int] | None = None
    ) -> dict[str, Any]:
        """The mini-batch dict: ``id``, ``nsentences``, ``ntokens``, ``net_input``, ``target``."""
        return collate(
            samples,
            pad_idx=self.src_dict.pad(),
            eos_idx=self.src_dict.eos(),
            left_pad_source=self.left_pad_source,
            left_pad_target=self.left_pad_target,
            input_feeding=self.input_feeding,
            pad_to_length=pad_to_length,
        )

    def num_tokens(self, index: int) -> int:
        """The longer of the two sides, which bounds the batch's padded width."""
        tgt = int(self.tgt_sizes[index]) if self.tgt_sizes is not None else 0
        return max(int(self.src_sizes[index]), tgt)

    def num_tokens_vec(self, indices: np.ndarray) -> np.ndarray:
        """``num_tokens`` of many examples."""
        sizes = self.src_sizes[indices]
        if self.tgt_sizes is not None:
            np.maximum(sizes, self.tgt_sizes[indices], out=sizes)
        return sizes

    def size(self, index: int) -> tuple[int, int]:
        """``(source length, target length)``, compared with the task's max positions."""
        tgt = int(self.tgt_sizes[index]) if self.tgt_sizes is not None else 0
        return int(self.src_sizes[index]), tgt

    @property
    def sizes(self) -> np.ndarray:
        """Source lengths, or ``(N, 2)`` source and target lengths."""
        if self.tgt_sizes is None:
            return self.src_sizes
        return np.vstack((self.src_sizes, self.tgt_sizes)).T

    def ordered_indices(self) -> np.ndarray:
        """Indices sorted by source length, then target length; ties in random order when shuffling."""
        # lexsort: the last key is the primary one; a random key breaks ties when shuffling
        keys = [np.random.randint(0, 2**31 - 1, size=len(self), dtype=np.int32)] if self.shuffle else []
        if self.tgt_sizes is not None:
            keys.append(self.tgt_sizes)
        keys.append(self.src_sizes)
        return np.lexsort(keys).astype(np.int64, copy=False)

    def filter_indices_by_size(self, indices: np.ndarray, max_sizes: Any) -> tuple[np.ndarray, np.ndarray]:
        """Keep examples whose source and target fit ``max_sizes`` (an int or a pair; None: no limit)."""
        indices = np.asarray(indices, dtype=np.int64)
        if max_sizes is None:
            return indices, indices[:0]
        max_src, max_tgt = max_sizes if isinstance(max_sizes, (tuple, list)) else (max_sizes, max_sizes)
        keep = np.ones(len(indices), dtype=bool)
        if max_src is not None:
            keep &= self.src_sizes[indices] <= max_src
        if max_tgt is not None and self.tgt_sizes is not None:
            keep &= self.tgt_sizes[indices] <= max_tgt
        return indices[keep], indices[~keep]

    @property
    def can_reuse_epoch_itr_across_epochs(self) -> bool:
        """The batches do not depend on the epoch."""
        return True
