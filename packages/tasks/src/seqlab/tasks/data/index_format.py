"""The on-disk format of a binarized split: ``<prefix>.bin`` token ids and ``<prefix>.idx`` offsets.

``.bin`` holds every sentence's ids back to back in the smallest unsigned integer
type that fits the vocabulary. ``.idx`` starts with a 40-byte little-endian header::

    magic  b"SEQLBIDX"   8 bytes
    version             uint16
    dtype code          uint8   (1 uint8, 2 uint16, 3 uint32, 4 int64)
    (padding)           5 bytes
    sentences N         uint64
    tokens T            uint64  (so .bin must be T * itemsize bytes)
    vocabulary size     uint64  (the dictionary the ids index)

followed by N int64 start offsets (in tokens) and N int32 lengths. Every field
is checked on opening, so a truncated file, a ``.bin`` from another run or a
dictionary of another size is reported instead of read as garbage.

fairseq's ``mmap`` splits (what ``fairseq-preprocess`` writes by default) are read too. Their
``.idx`` starts with a 26-byte header (magic ``b"MMIDIDX\\x00\\x00"``, uint64 version 1, uint8
dtype code, uint64 sentences N), then N int32 lengths and N int64 start offsets in bytes. They
record no vocabulary size, so the dictionary beside them gives it.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass

import numpy as np

from seqlab.core import SeqlabError

MAGIC = b"SEQLBIDX"
FAIRSEQ_MAGIC = b"MMIDIDX\x00\x00"
VERSION = 1
HEADER = struct.Struct("<8sHB5xQQQ")
FAIRSEQ_HEADER = struct.Struct("<9sQBQ")
#: fairseq's dtype codes that hold token ids (6 and 7 are floats)
FAIRSEQ_DTYPES: dict[int, np.dtype] = {
    1: np.dtype(np.uint8),
    2: np.dtype(np.int8),
    3: np.dtype(np.int16),
    4: np.dtype(np.int32),
    5: np.dtype(np.int64),
    8: np.dtype(np.uint16),
}
DTYPE_CODES: dict[int, np.dtype] = {
    1: np.dtype(np.uint8),
    2: np.dtype(np.uint16),
    3: np.dtype(np.uint32),
    4: np.dtype(np.int64),
}
_CODE_OF = {dtype: code for code, dtype in DTYPE_CODES.items()}
PRODUCED_BY = "seq-preprocess writes <split>.<src>-<tgt>.<lang>.bin/.idx (or <split>.bin/.idx) into --destdir"


def best_dtype(vocab_size: int) -> np.dtype:
    """Return the smallest integer type that holds every id of a ``vocab_size`` vocabulary."""
    for dtype in DTYPE_CODES.values():
        if vocab_size - 1 <= np.iinfo(dtype).max:
            return dtype
    raise ValueError(f"a vocabulary of {vocab_size} symbols does not fit in 64 bits")


def index_path(prefix: str) -> str:
    """The ``.idx`` file of a split."""
    return prefix + ".idx"


def data_path(prefix: str) -> str:
    """The ``.bin`` file of a split."""
    return prefix + ".bin"


def dataset_exists(prefix: str) -> bool:
    """Whether both files of a binarized split exist."""
    return os.path.isfile(index_path(prefix)) and os.path.isfile(data_path(prefix))


@dataclass(frozen=True)
class IndexHeader:
    """What an ``.idx`` header says about its split."""

    version: int
    dtype: np.dtype
    num_sentences: int
    num_tokens: int
    vocab_size: int  # 0 for a fairseq split: the dictionary it is read with gives it
    is_fairseq: bool = False  # fairseq's ``mmap`` layout

    @property
    def pointers_offset(self) -> int:
        """Byte offset of the start offsets in ``.idx``."""
        if self.is_fairseq:
            return FAIRSEQ_HEADER.size + 4 * self.num_sentences
        return HEADER.size

    @property
    def pointer_unit(self) -> int:
        """What one unit of a start offset is, in tokens' bytes: fairseq counts bytes, seqlab tokens."""
        return self.dtype.itemsize if self.is_fairseq else 1

    @property
    def sizes_offset(self) -> int:
        """Byte offset of the lengths in ``.idx``."""
        if self.is_fairseq:
            return FAIRSEQ_HEADER.size
        return HEADER.size + 8 * self.num_sentences

    @property
    def index_bytes(self) -> int:
        """The size ``.idx`` must have."""
        if self.is_fairseq:
            return FAIRSEQ_HEADER.size + 12 * self.num_sentences
        return self.sizes_offset + 4 * self.num_sentences


def read_header(prefix: str) -> IndexHeader:
    """Read and check the ``.idx`` header of a split and the size of its ``.bin``."""
    idx, bin_ = index_path(prefix), data_path(prefix)
    for path in (idx, bin_):
        if not os.path.isfile(path):
            raise SeqlabError(f"{path} does not exist; {PRODUCED_BY}")
    with open(idx, "rb") as f:
        raw = f.read(HEADER.size)
    if raw.startswith(FAIRSEQ_MAGIC):
        return _fairseq_header(idx, bin_, raw)
    if len(raw) < HEADER.size or not raw.startswith(MAGIC):
        what = (
            "is truncated"
            if len(raw) < HEADER.size and MAGIC.startswith(raw[:8])
            else "is not a seqlab index"
        )
        raise SeqlabError(f"{idx} {what} (no valid header); {PRODUCED_BY}")
    _, version, code, count, tokens, vocab = HEADER.unpack(raw)
    if version > VERSION:
        raise SeqlabError(
            f"{idx} has format version {version}, newer than this seqlab-tasks reads ({VERSION}); "
            "upgrade seqlab-tasks"
        )
    if code not in DTYPE_CODES:
        raise SeqlabError(f"{idx} names an unknown token type (code {code}); it is corrupt, {PRODUCED_BY}")
    header = IndexHeader(version, DTYPE_CODES[code], count, tokens, vocab)
    idx_size = os.path.getsize(idx)
    if idx_size != header.index_bytes:
        raise SeqlabError(
            f"{idx} has {idx_size} bytes but its header describes {count} sentences "
            f"({header.index_bytes} bytes): it is truncated or corrupt; {PRODUCED_BY}"
        )
    bin_size = os.path.getsize(bin_)
    expected = tokens * header.dtype.itemsize
    if bin_size != expected:
        raise SeqlabError(
            f"{bin_} has {bin_size} bytes but {idx} describes {tokens} tokens of {header.dtype} "
            f"({expected} bytes): the two files are not from the same run or one is truncated; {PRODUCED_BY}"
        )
    return header


def _fairseq_header(idx: str, bin_: str, raw: bytes) -> IndexHeader:
    """The header of a split ``fairseq-preprocess`` wrote (its ``mmap`` layout), checked as seqlab's is."""
    if len(raw) < FAIRSEQ_HEADER.size:
        raise SeqlabError(f"{idx} is a truncated fairseq index (no valid header); binarize the data again")
    _, version, code, count = FAIRSEQ_HEADER.unpack(raw[: FAIRSEQ_HEADER.size])
    if version != 1:
        raise SeqlabError(f"{idx} is a fairseq index of version {version}, which seqlab does not read")
    if code not in FAIRSEQ_DTYPES:
        raise SeqlabError(
            f"{idx} is a fairseq index of non-integer values (dtype code {code}), not token ids"
        )
    dtype = FAIRSEQ_DTYPES[code]
    bin_size = os.path.getsize(bin_)
    if bin_size % dtype.itemsize:
        raise SeqlabError(f"{bin_} has {bin_size} bytes, not a whole number of {dtype} ids: it is truncated")
    header = IndexHeader(1, dtype, count, bin_size // dtype.itemsize, 0, is_fairseq=True)
    idx_size = os.path.getsize(idx)
    if idx_size != header.index_bytes:
        raise SeqlabError(
            f"{idx} has {idx_size} bytes but its header describes {count} sentences "
            f"({header.index_bytes} bytes): it is truncated or corrupt; binarize the data again"
        )
    return header


def check_sizes(prefix: str, header: IndexHeader, sizes: np.ndarray) -> None:
    """Check that a split's sentence lengths are not negative and add up to its header's token count."""
    idx = index_path(prefix)
    if sizes.size and int(sizes.min()) < 0:
        i = int(np.argmin(sizes))
        raise SeqlabError(
            f"{idx} is corrupt: sentence {i} has a negative length ({int(sizes[i])}); "
            "binarize the data again with seq-preprocess"
        )
    total = int(sizes.sum(dtype=np.int64))
    if total != header.num_tokens:
        raise SeqlabError(
            f"{idx} is corrupt: its sentence lengths add up to {total} tokens, not the "
            f"{header.num_tokens} of its header; binarize the data again with seq-preprocess"
        )


class IndexedDatasetBuilder:
    """Writes a binarized split: call :meth:`add_item` per sentence, then :meth:`finalize`."""

    def __init__(self, prefix: str, vocab_size: int, dtype: np.dtype | None = None) -> None:
        self.prefix = prefix
        self.vocab_size = int(vocab_size)
        self.dtype = np.dtype(dtype) if dtype is not None else best_dtype(self.vocab_size)
        if self.dtype not in _CODE_OF:
            raise ValueError(f"unsupported token type {self.dtype}; use one of {list(_CODE_OF)}")
        self._bin = open(data_path(prefix), "wb")
        self._sizes: list[np.ndarray] = []
        self._num_tokens = 0

    def add_item(self, ids: np.ndarray | list[int]) -> None:
        """Append one sentence's ids."""
        arr = np.asarray(ids)
        self.add_items(arr, np.array([arr.size], dtype=np.int32))

    def add_items(self, tokens: np.ndarray, sizes: np.ndarray) -> None:
        """Append many sentences at once: their ids back to back and each one's length."""
        tokens = np.asarray(tokens)
        sizes = np.asarray(sizes, dtype=np.int32)
        if int(sizes.sum()) != tokens.size:
            raise ValueError(f"the lengths add up to {int(sizes.sum())} but {tokens.size} ids were given")
        if tokens.size and (int(tokens.max()) >= self.vocab_size or int(tokens.min()) < 0):
            raise ValueError(f"an id is outside the vocabulary of {self.vocab_size} symbols")
        self._bin.write(tokens.astype(self.dtype, copy=False).tobytes())
        self._sizes.append(sizes)
        self._num_tokens += tokens.size

    def merge_file_(self, other_prefix: str) -> None:
        """Append every sentence of another binarized split written with the same vocabulary."""
        header = read_header(other_prefix)
        if header.vocab_size != self.vocab_size:
            raise SeqlabError(
                f"cannot merge {other_prefix}: its vocabulary has {header.vocab_size} symbols, not "
                f"{self.vocab_size}"
            )
        raw = np.fromfile(data_path(other_prefix), dtype=header.dtype)
        sizes = np.fromfile(
            index_path(other_prefix), dtype="<i4", count=header.num_sentences, offset=header.sizes_offset
        )
        check_sizes(other_prefix, header, sizes)
        if raw.size and (int(raw.max()) >= header.vocab_size or int(raw.min()) < 0):
            raise SeqlabError(
                f"{data_path(other_prefix)} is corrupt: it holds ids outside its vocabulary of "
                f"{header.vocab_size} symbols; binarize the data again with seq-preprocess"
            )
        self.add_items(raw, sizes)

    def close(self) -> None:
        """Stop writing without producing ``.idx`` (the partial ``.bin`` is left to the caller)."""
        self._bin.close()

    def finalize(self) -> IndexHeader:
        """Close ``.bin`` and write ``.idx``; return the header written."""
        self._bin.close()
        sizes = np.concatenate(self._sizes) if self._sizes else np.zeros(0, dtype=np.int32)
        pointers = np.zeros(len(sizes), dtype=np.int64)
        if len(sizes) > 1:
            np.cumsum(sizes[:-1], dtype=np.int64, out=pointers[1:])
        header = IndexHeader(VERSION, self.dtype, len(sizes), self._num_tokens, self.vocab_size)
        with open(index_path(self.prefix), "wb") as f:
            f.write(
                HEADER.pack(
                    MAGIC, VERSION, _CODE_OF[self.dtype], len(sizes), self._num_tokens, self.vocab_size
                )
            )
            f.write(pointers.astype("<i8").tobytes())
            f.write(sizes.astype("<i4").tobytes())
        return header
