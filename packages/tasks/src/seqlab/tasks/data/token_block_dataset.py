"""Cut a stream of sentences into blocks of at most ``tokens_per_sample`` tokens for language models."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import torch

from seqlab.core import SeqlabError

from .sized_dataset import SizedDataset

BreakMode = Literal["none", "complete", "complete_doc", "eos"]


def block_slices(sizes: np.ndarray, break_mode: str, block_size: int) -> np.ndarray:
    """Return ``(M, 2)`` start/end positions of each block in the concatenated token stream.

    ``none``: fixed-size blocks that ignore sentence boundaries; ``complete``:
    as many whole sentences as fit (a longer sentence is a block of its own);
    ``complete_doc``: the same within documents, which empty lines (sentences of ``</s>``
    alone) separate: no block crosses one, the separators belong to no block, and a block
    of a single token is left out, as in fairseq; ``eos``: one sentence per block.
    """
    sizes = np.asarray(sizes, dtype=np.int64)
    ends = np.cumsum(sizes)
    total = int(ends[-1]) if len(ends) else 0
    if break_mode == "none":
        if block_size < 1:
            raise SeqlabError(f"--tokens-per-sample must be positive, not {block_size}")
        starts = np.arange(0, total, block_size, dtype=np.int64)
        return np.stack([starts, np.minimum(starts + block_size, total)], axis=1)
    if break_mode == "eos":
        return np.stack([ends - sizes, ends], axis=1)
    if break_mode == "complete":
        slices: list[tuple[int, int]] = []
        start = pos = 0
        for n in sizes.tolist():
            if pos > start and pos + n - start > block_size:
                slices.append((start, pos))
                start = pos
            pos += n
        if pos > start:
            slices.append((start, pos))
        return np.array(slices, dtype=np.int64).reshape(-1, 2)
    if break_mode == "complete_doc":
        return _complete_doc_slices(sizes.tolist(), block_size)
    raise SeqlabError(
        f"unknown --sample-break-mode {break_mode!r}; choose none, complete, complete_doc or eos"
    )


def _complete_doc_slices(sizes: list[int], block_size: int) -> np.ndarray:
    slices: list[tuple[int, int]] = []
    start = pos = 0
    for n in sizes:
        if n == 1:  # a document separator: close the block, skip the separator
            if pos - start > 1:
                slices.append((start, pos))
            pos += n
            start = pos
            continue
        if pos > start and pos + n - start > block_size:
            if pos - start > 1:
                slices.append((start, pos))
            start = pos
        pos += n
    if pos - start > 1:
        slices.append((start, pos))
    return np.array(slices, dtype=np.int64).reshape(-1, 2)


class TokenBlockDataset(SizedDataset):
    """Blocks of consecutive tokens; with ``include_targets`` each item is ``(source, target)``.

    The target is the block; the source is the block shifted right by one, starting
    with the token before the block (``</s>`` at a sentence boundary): the input
    of a language model that predicts each next token.
    """

    def __init__(
        self,
        dataset: Any,
        sizes: np.ndarray,
        block_size: int,
        pad: int,
        eos: int,
        break_mode: str = "none",
        include_targets: bool = True,
    ) -> None:
        self.dataset = dataset
        self.pad, self.eos = pad, eos
        self.include_targets = include_targets
        slices = block_slices(sizes, break_mode, block_size)
        self.slice_indices = slices
        self._sizes = (slices[:, 1] - slices[:, 0]).astype(np.int64)
        starts = np.cumsum(np.asarray(sizes, dtype=np.int64)) - np.asarray(sizes, dtype=np.int64)
        ends = starts + np.asarray(sizes, dtype=np.int64)
        # which sentences each block spans and where in the first one it starts
        first = np.searchsorted(ends, slices[:, 0], side="right")
        last = np.searchsorted(ends, np.maximum(slices[:, 1] - 1, 0), side="right")
        self.block_to_dataset_index = np.stack([first, slices[:, 0] - starts[first], last], axis=1)

    def __len__(self) -> int:
        return len(self.slice_indices)

    def set_epoch(self, epoch: int) -> None:
        """Pass the epoch on to the sentences (a random crop draws its windows per epoch)."""
        if hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(epoch)

    def __getitem__(self, index: int) -> Any:
        first, offset, last = (int(x) for x in self.block_to_dataset_index[index])
        length = int(self._sizes[index])
        buffer = torch.cat([self.dataset[i] for i in range(first, last + 1)])
        item = buffer[offset : offset + length]
        if not self.include_targets:
            return item
        before = buffer[offset - 1 : offset] if offset > 0 else item.new_tensor([self.eos])
        source = torch.cat([before, item[:-1]])
        return source, item
