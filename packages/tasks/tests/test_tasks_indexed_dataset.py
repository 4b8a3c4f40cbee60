"""The .bin/.idx format: smallest dtype, round trip, and clear errors for damaged or mismatched files."""

from __future__ import annotations

import os
import pickle
import struct

import numpy as np
import pytest

from seqlab.core import SeqlabError
from seqlab.tasks.data import (
    IndexedDataset,
    IndexedDatasetBuilder,
    best_dtype,
    read_header,
)


def _write(prefix, sentences, vocab_size):
    builder = IndexedDatasetBuilder(str(prefix), vocab_size=vocab_size)
    for s in sentences:
        builder.add_item(np.array(s, dtype=np.int64))
    return builder.finalize()


@pytest.mark.parametrize(
    ("vocab", "dtype"),
    [
        (10, np.uint8),
        (256, np.uint8),
        (257, np.uint16),
        (65536, np.uint16),
        (65537, np.uint32),
        (2**33, np.int64),
    ],
)
def test_smallest_dtype_that_fits(vocab, dtype):
    assert best_dtype(vocab) == np.dtype(dtype)


@pytest.mark.parametrize("vocab", [200, 40000, 70000])
def test_write_then_read_every_sentence(tmp_path, vocab):
    rng = np.random.RandomState(0)
    sentences = [rng.randint(0, vocab, size=rng.randint(0, 30)).tolist() for _ in range(200)]
    header = _write(tmp_path / "train", sentences, vocab)
    assert header.dtype == best_dtype(vocab)
    assert (tmp_path / "train.bin").stat().st_size == sum(map(len, sentences)) * header.dtype.itemsize
    ds = IndexedDataset(str(tmp_path / "train"))
    assert len(ds) == 200
    assert ds.sizes.tolist() == [len(s) for s in sentences]
    for i in (0, 17, 199):
        assert ds[i].tolist() == sentences[i]
        assert ds[i].dtype.is_floating_point is False
    clone = pickle.loads(pickle.dumps(ds))
    assert clone[5].tolist() == sentences[5]


def _rss_kib():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads VmRSS from Linux's /proc")
def test_reading_a_corpus_at_random_does_not_grow_resident_memory(tmp_path):
    rng = np.random.RandomState(0)
    builder = IndexedDatasetBuilder(str(tmp_path / "big"), vocab_size=60000)
    builder.add_items(rng.randint(0, 60000, size=20000 * 200), np.full(20000, 200, dtype=np.int32))
    builder.finalize()  # an 8 MB .bin, in the page cache as it was just written
    ds = IndexedDataset(str(tmp_path / "big"))
    order = rng.permutation(len(ds)).tolist()
    for i in order[:100]:
        ds[i]  # page in the code paths, so that only the data would show
    before = _rss_kib()
    peak = 0
    for k, i in enumerate(order + order):
        assert ds[i].numel() == 200
        if k % 1000 == 0:
            peak = max(peak, _rss_kib() - before)
    assert peak < 1024, f"reading the 8 MB corpus raised RSS by {peak} KiB"


def test_truncated_bin_is_reported(tmp_path):
    _write(tmp_path / "t", [[1, 2, 3], [4, 5]], 10)
    data = (tmp_path / "t.bin").read_bytes()
    (tmp_path / "t.bin").write_bytes(data[:-1])
    with pytest.raises(SeqlabError, match=r"t\.bin has 4 bytes but .*t\.idx describes 5 tokens of uint8"):
        IndexedDataset(str(tmp_path / "t"))


def test_truncated_idx_is_reported(tmp_path):
    _write(tmp_path / "t", [[1, 2, 3], [4, 5]], 10)
    raw = (tmp_path / "t.idx").read_bytes()
    (tmp_path / "t.idx").write_bytes(raw[:-3])
    with pytest.raises(SeqlabError, match=r"t\.idx has \d+ bytes but its header describes 2 sentences"):
        read_header(str(tmp_path / "t"))
    (tmp_path / "t.idx").write_bytes(raw[:12])
    with pytest.raises(SeqlabError, match=r"t\.idx is truncated"):
        read_header(str(tmp_path / "t"))


def test_bin_from_another_run_is_reported(tmp_path):
    _write(tmp_path / "a", [[1, 2, 3]], 10)
    _write(tmp_path / "b", [[1, 2, 3, 4, 5, 6]], 1000)
    (tmp_path / "a.bin").write_bytes((tmp_path / "b.bin").read_bytes())
    with pytest.raises(SeqlabError, match="not from the same run"):
        IndexedDataset(str(tmp_path / "a"))


def _write_fairseq(prefix, sentences, code=8, dtype=np.uint16):
    """A split in fairseq's mmap layout, as fairseq's MMapIndexedDataset writer lays it out."""
    sizes = np.array([len(x) for x in sentences], dtype=np.int32)
    pointers = np.zeros(len(sizes), dtype=np.int64)
    np.cumsum(sizes[:-1].astype(np.int64) * np.dtype(dtype).itemsize, out=pointers[1:])
    with open(f"{prefix}.idx", "wb") as f:
        f.write(b"MMIDIDX\x00\x00" + struct.pack("<Q", 1) + struct.pack("<B", code))
        f.write(struct.pack("<Q", len(sizes)))
        f.write(sizes.tobytes() + pointers.tobytes())
    with open(f"{prefix}.bin", "wb") as f:
        for x in sentences:
            f.write(np.array(x, dtype=dtype).tobytes())


@pytest.mark.parametrize(("code", "dtype"), [(8, np.uint16), (4, np.int32), (1, np.uint8)])
def test_fairseq_splits_are_read(tmp_path, code, dtype):
    sentences = [[5, 6, 2], [7, 2], [], [9, 9, 9, 9, 2]]
    _write_fairseq(tmp_path / "t", sentences, code, dtype)
    ds = IndexedDataset(str(tmp_path / "t"), expected_vocab_size=12)
    assert ds.header.is_fairseq and len(ds) == 4 and ds.vocab_size == 12
    assert [ds[i].tolist() for i in range(4)] == sentences
    assert ds.sizes.tolist() == [3, 2, 0, 5]
    assert [x.tolist() for x in pickle.loads(pickle.dumps(ds))] == sentences


def test_damaged_fairseq_splits_are_reported(tmp_path):
    _write_fairseq(tmp_path / "t", [[5, 6, 2], [7, 2]])
    with pytest.raises(SeqlabError, match="holds ids outside the vocabulary of 6 symbols"):
        IndexedDataset(str(tmp_path / "t"), expected_vocab_size=6)[0]
    raw = (tmp_path / "t.idx").read_bytes()
    (tmp_path / "t.idx").write_bytes(raw[:-8])
    with pytest.raises(SeqlabError, match="truncated or corrupt"):
        IndexedDataset(str(tmp_path / "t"), expected_vocab_size=12)
    (tmp_path / "t.idx").write_bytes(raw[:20])
    with pytest.raises(SeqlabError, match="truncated fairseq index"):
        IndexedDataset(str(tmp_path / "t"), expected_vocab_size=12)
    (tmp_path / "t.idx").write_bytes(raw[:17] + struct.pack("<B", 6) + raw[18:])
    with pytest.raises(SeqlabError, match="non-integer values"):
        IndexedDataset(str(tmp_path / "t"), expected_vocab_size=12)
    (tmp_path / "t.idx").write_bytes(raw)
    (tmp_path / "t.bin").write_bytes((tmp_path / "t.bin").read_bytes()[:-2])
    with pytest.raises(SeqlabError, match="sentence lengths add up to 5 tokens, not the 4"):
        IndexedDataset(str(tmp_path / "t"), expected_vocab_size=12)


def test_wrong_magic_and_newer_versions(tmp_path):
    _write(tmp_path / "t", [[1]], 10)
    raw = bytearray((tmp_path / "t.idx").read_bytes())
    (tmp_path / "t.idx").write_bytes(b"GARBAGE!" + bytes(raw[8:]))
    with pytest.raises(SeqlabError, match="is not a seqlab index"):
        read_header(str(tmp_path / "t"))
    raw[8:10] = struct.pack("<H", 99)
    (tmp_path / "t.idx").write_bytes(bytes(raw))
    with pytest.raises(SeqlabError, match="format version 99, newer than"):
        read_header(str(tmp_path / "t"))


def test_missing_files_and_dictionary_mismatch(tmp_path):
    with pytest.raises(SeqlabError, match=r"nope\.idx does not exist; seq-preprocess writes"):
        IndexedDataset(str(tmp_path / "nope"))
    _write(tmp_path / "t", [[1, 2]], 16)
    with pytest.raises(
        SeqlabError, match="binarized with a dictionary of 16 symbols, but the dictionary given has 24"
    ):
        IndexedDataset(str(tmp_path / "t"), expected_vocab_size=24)


def test_builder_rejects_ids_outside_the_vocabulary_and_merges(tmp_path):
    builder = IndexedDatasetBuilder(str(tmp_path / "x"), vocab_size=5)
    with pytest.raises(ValueError, match="outside the vocabulary of 5"):
        builder.add_item([1, 5])
    builder.close()
    _write(tmp_path / "p1", [[1, 2], [3]], 5)
    _write(tmp_path / "p2", [[4, 4, 4]], 5)
    merged = IndexedDatasetBuilder(str(tmp_path / "all"), vocab_size=5)
    merged.merge_file_(str(tmp_path / "p1"))
    merged.merge_file_(str(tmp_path / "p2"))
    merged.finalize()
    ds = IndexedDataset(str(tmp_path / "all"))
    assert [ds[i].tolist() for i in range(len(ds))] == [[1, 2], [3], [4, 4, 4]]
