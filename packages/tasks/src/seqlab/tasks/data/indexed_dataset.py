"""A binarized split read sentence by sentence from the OS page cache, so memory does not grow with the corpus."""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import numpy as np
import torch

from seqlab.core import SeqlabError

from .index_format import check_sizes, data_path, index_path, read_header
from .sized_dataset import SizedDataset

_REBUILD = "binarize the data again with seq-preprocess"


class IndexedDataset(SizedDataset):
    """Sentence ``i`` of a ``.bin``/``.idx`` pair as a LongTensor of token ids.

    Only the lengths (4 bytes per sentence, needed for batching) are held in
    memory; each read fetches the sentence's offset from ``.idx`` and its ids
    from ``.bin`` with ``pread``, served by the OS page cache. Pages of a memory
    map would count in the process's resident memory once touched, and the
    kernel maps 64 KiB to 2 MiB around every random read, so reading a corpus
    through a map makes RSS grow to the corpus size; these reads leave it flat.
    The files are shared by every process that reads them, through the page cache.

    Damaged files raise a SeqlabError: the lengths are checked on opening, and each
    read checks the sentence's offsets against its neighbour's and its ids against
    the vocabulary, so a corrupt entry is never read as some other sentence.
    """

    def __init__(self, prefix: str, expected_vocab_size: int | None = None) -> None:
        self.prefix = prefix
        self.header = read_header(prefix)
        if self.header.is_fairseq:
            # fairseq's index records no vocabulary: ids are checked against the dictionary given
            vocab = expected_vocab_size or int(np.iinfo(self.header.dtype).max) + 1
            self.header = dataclasses.replace(self.header, vocab_size=vocab)
        if expected_vocab_size is not None and expected_vocab_size != self.header.vocab_size:
            raise SeqlabError(
                f"{index_path(prefix)} was binarized with a dictionary of {self.header.vocab_size} symbols, "
                f"but the dictionary given has {expected_vocab_size}; use the dict.*.txt seq-preprocess "
                "wrote beside it, or binarize again"
            )
        self._open()

    def _open(self) -> None:
        h = self.header
        self._itemsize = h.dtype.itemsize
        self._sizes = np.fromfile(
            index_path(self.prefix), dtype="<i4", count=h.num_sentences, offset=h.sizes_offset
        )
        check_sizes(self.prefix, h, self._sizes)
        self._idx_fd = os.open(index_path(self.prefix), os.O_RDONLY)
        self._bin_fd = os.open(data_path(self.prefix), os.O_RDONLY)
        if h.num_sentences and self._pointer(h.num_sentences - 1) + int(self._sizes[-1]) != h.num_tokens:
            raise SeqlabError(
                f"{index_path(self.prefix)} is corrupt: its offsets do not end at its {h.num_tokens} tokens; "
                + _REBUILD
            )

    def _pointer(self, index: int) -> int:
        raw = os.pread(self._idx_fd, 8, self.header.pointers_offset + 8 * index)
        return int.from_bytes(raw, "little", signed=True) // self.header.pointer_unit

    def _start(self, index: int, size: int) -> int:
        """Return the sentence's first token after checking it against where the next one starts."""
        last = index + 1 == len(self)
        h = self.header
        raw = os.pread(self._idx_fd, 8 if last else 16, h.pointers_offset + 8 * index)
        start_at = int.from_bytes(raw[:8], "little", signed=True)
        end_at = h.num_tokens * h.pointer_unit if last else int.from_bytes(raw[8:16], "little", signed=True)
        if start_at % h.pointer_unit or end_at % h.pointer_unit:
            start_at = -1  # a byte offset inside an id: reported as corrupt below
        start, end = start_at // h.pointer_unit, end_at // h.pointer_unit
        if start < 0 or start + size != end or end > self.header.num_tokens:
            raise SeqlabError(
                f"{index_path(self.prefix)} is corrupt: sentence {index} of {size} tokens is said to "
                f"start at token {start} and the next at {end}; " + _REBUILD
            )
        return start

    def __del__(self) -> None:
        for fd in (getattr(self, "_idx_fd", None), getattr(self, "_bin_fd", None)):
            if fd is not None:
                os.close(fd)

    def __getstate__(self) -> dict[str, Any]:
        return {"prefix": self.prefix, "header": self.header}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.prefix = state["prefix"]
        self.header = state["header"]
        self._open()

    def __len__(self) -> int:
        return self.header.num_sentences

    def __getitem__(self, index: int) -> torch.Tensor:
        if not 0 <= index < len(self):
            raise IndexError(f"sentence {index} is out of range for {len(self)} sentences in {self.prefix}")
        size = int(self._sizes[index])
        if not size:
            return torch.zeros(0, dtype=torch.int64)
        raw = os.pread(self._bin_fd, size * self._itemsize, self._start(index, size) * self._itemsize)
        ids = np.frombuffer(raw, dtype=self.header.dtype)
        if ids.size != size or int(ids.max()) >= self.header.vocab_size or int(ids.min()) < 0:
            raise SeqlabError(
                f"{data_path(self.prefix)} is corrupt: sentence {index} is cut short or holds ids outside "
                f"the vocabulary of {self.header.vocab_size} symbols; " + _REBUILD
            )
        return torch.from_numpy(ids.astype(np.int64))

    @property
    def vocab_size(self) -> int:
        """The size of the dictionary the ids index."""
        return self.header.vocab_size
