"""Fuzzing the .bin/.idx reader: damaged files give the written data or a SeqlabError, never a crash.

A valid pair is written, then damaged (bytes overwritten, cut or extended, header
fields and per-sentence entries set to arbitrary values, or whole files replaced).
Opening and reading every sentence must then either return exactly what was
written or raise a SeqlabError, within a time limit (a giant count in a header
must not turn into a giant allocation). Damage to ``.bin`` ids cannot always be
seen, so there the reader must return ids inside the vocabulary or raise.

How many examples each property ran: add ``--hypothesis-show-statistics`` to the pytest command.
"""

from __future__ import annotations

import os
import struct
import tempfile

import numpy as np
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from seqlab.core import SeqlabError
from seqlab.core.testing import time_limit
from seqlab.tasks.data import IndexedDataset, IndexedDatasetBuilder
from seqlab.tasks.data.index_format import HEADER

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
#: a damaged split must be judged in well under this (a hang or a huge allocation takes longer)
LIMIT_S = 10

# byte offset and struct format of each header field (see index_format's docstring)
HEADER_FIELDS = {
    "version": (8, "<H"),
    "dtype": (10, "<B"),
    "count": (16, "<Q"),
    "tokens": (24, "<Q"),
    "vocab": (32, "<Q"),
}


@st.composite
def corpora(draw: st.DrawFn) -> tuple[int, list[list[int]]]:
    """A vocabulary size (each token type in turn) and sentences of ids inside it."""
    vocab = draw(st.sampled_from([1, 7, 256, 257, 70000]))
    ids = st.integers(0, vocab - 1)
    return vocab, draw(st.lists(st.lists(ids, max_size=12), min_size=1, max_size=8))


def _write(folder: str, vocab: int, sentences: list[list[int]]) -> str:
    prefix = os.path.join(folder, "split")
    builder = IndexedDatasetBuilder(prefix, vocab_size=vocab)
    for s in sentences:
        builder.add_item(np.array(s, dtype=np.int64))
    builder.finalize()
    return prefix


def _read_all(prefix: str) -> list[list[int] | None] | None:
    """Every sentence's ids (None where reading it raised a SeqlabError); None if opening raised."""
    with time_limit(LIMIT_S, f"reading {prefix}"):
        try:
            ds = IndexedDataset(prefix)
        except SeqlabError:
            return None
        out: list[list[int] | None] = []
        for i in range(len(ds)):
            try:
                out.append(ds[i].tolist())
            except SeqlabError:
                out.append(None)
        return out


def _assert_exact_or_error(got: list[list[int] | None] | None, sentences: list[list[int]]) -> None:
    if got is None:
        return
    assert len(got) == len(sentences)
    for i, ids in enumerate(got):
        assert ids is None or ids == sentences[i], f"sentence {i}: read {ids}, wrote {sentences[i]}"


def _patch(path: str, offset: int, data: bytes) -> None:
    raw = bytearray(open(path, "rb").read())
    offset = min(offset, len(raw))
    raw[offset : offset + len(data)] = data
    with open(path, "wb") as f:
        f.write(raw)


@FUZZ
@given(corpora(), st.integers(0, 10_000), st.binary(min_size=1, max_size=24))
@example((7, [[1, 2, 3], [4, 5]]), HEADER.size + 8, struct.pack("<q", -2))  # a negative offset
@example((7, [[1, 2, 3], [4, 5]]), HEADER.size + 8, struct.pack("<q", 1 << 60))  # an offset past the end
@example((7, [[1, 2, 3], [4, 5]]), HEADER.size + 16, struct.pack("<ii", 5, 0))  # lengths moved, same sum
@example((7, [[1, 2, 3], [4, 5]]), HEADER.size + 16, struct.pack("<ii", 7, -2))  # a negative length
@example((7, [[1, 2, 3], [4, 5]]), HEADER.size + 16, struct.pack("<i", 2**31 - 1))  # a huge length
def test_overwritten_index_bytes(corpus, offset, data):
    vocab, sentences = corpus
    with tempfile.TemporaryDirectory() as folder:
        prefix = _write(folder, vocab, sentences)
        _patch(prefix + ".idx", offset, data)
        _assert_exact_or_error(_read_all(prefix), sentences)


@FUZZ
@given(corpora(), st.sampled_from(sorted(HEADER_FIELDS)), st.integers(0, 2**64 - 1))
@example((7, [[1, 2, 3]]), "count", 2**61)  # a giant count must not become a giant allocation
@example((7, [[1, 2, 3]]), "tokens", 2**63)
@example((300, [[299, 1]]), "vocab", 2)  # ids the header's vocabulary cannot hold
def test_header_field_set_to_any_value(corpus, field, value):
    vocab, sentences = corpus
    offset, fmt = HEADER_FIELDS[field]
    value %= 1 << (8 * struct.calcsize(fmt))
    with tempfile.TemporaryDirectory() as folder:
        prefix = _write(folder, vocab, sentences)
        _patch(prefix + ".idx", offset, struct.pack(fmt, value))
        _assert_exact_or_error(_read_all(prefix), sentences)


@FUZZ
@given(corpora(), st.sampled_from(["pointer", "size"]), st.data())
def test_sentence_entry_set_to_any_value(corpus, kind, data):
    vocab, sentences = corpus
    i = data.draw(st.integers(0, len(sentences) - 1), label="sentence")
    if kind == "pointer":
        offset, fmt = HEADER.size + 8 * i, "<q"
    else:
        offset, fmt = HEADER.size + 8 * len(sentences) + 4 * i, "<i"
    bits = 8 * struct.calcsize(fmt)
    value = data.draw(st.integers(-(1 << (bits - 1)), (1 << (bits - 1)) - 1), label="value")
    with tempfile.TemporaryDirectory() as folder:
        prefix = _write(folder, vocab, sentences)
        _patch(prefix + ".idx", offset, struct.pack(fmt, value))
        _assert_exact_or_error(_read_all(prefix), sentences)


@FUZZ
@given(corpora(), st.sampled_from([".idx", ".bin"]), st.data())
def test_truncated_or_extended_file(corpus, ext, data):
    vocab, sentences = corpus
    with tempfile.TemporaryDirectory() as folder:
        prefix = _write(folder, vocab, sentences)
        path = prefix + ext
        raw = open(path, "rb").read()
        length = data.draw(st.integers(0, len(raw) + 16), label="new length")
        tail = data.draw(st.binary(min_size=max(0, length - len(raw)), max_size=max(0, length - len(raw))))
        with open(path, "wb") as f:
            f.write(raw[:length] + tail)
        got = _read_all(prefix)
        if length != len(raw):
            assert got is None, f"{ext} of {len(raw)} bytes cut or grown to {length} was not reported"
        _assert_exact_or_error(got, sentences)


@FUZZ
@given(corpora(), st.integers(0, 10_000), st.binary(min_size=1, max_size=16))
@example((7, [[1, 2, 3]]), 0, b"\xff")  # an id of 255 in a 7-symbol vocabulary
def test_overwritten_data_bytes(corpus, offset, data):
    vocab, sentences = corpus
    with tempfile.TemporaryDirectory() as folder:
        prefix = _write(folder, vocab, sentences)
        path = prefix + ".bin"
        size = os.path.getsize(path)
        if size == 0:
            return
        offset %= size
        data = data[: size - offset]  # same length: the damage is to ids, not to the layout
        _patch(path, offset, data)
        itemsize = size // sum(map(len, sentences))
        got = _read_all(prefix)
        assert got is not None and len(got) == len(sentences)
        start = 0
        for ids, wrote in zip(got, sentences):
            end = start + len(wrote)
            untouched = end * itemsize <= offset or start * itemsize >= offset + len(data)
            if untouched:
                assert ids == wrote
            elif ids is not None:
                assert len(ids) == len(wrote) and all(0 <= t < vocab for t in ids), ids
            start = end


@FUZZ
@given(st.binary(max_size=200), st.binary(max_size=64), st.booleans())
@example(HEADER.pack(b"SEQLBIDX", 1, 4, 1, 2**61, 10) + b"\0" * 12, b"", False)
def test_arbitrary_files(idx, bin_, with_magic):
    if with_magic:  # get past the magic check, to reach the checks behind it
        idx = b"SEQLBIDX" + idx[8:]
    with tempfile.TemporaryDirectory() as folder:
        prefix = os.path.join(folder, "split")
        for ext, raw in ((".idx", idx), (".bin", bin_)):
            with open(prefix + ext, "wb") as f:
                f.write(raw)
        with time_limit(LIMIT_S, "reading arbitrary files"):
            try:
                ds = IndexedDataset(prefix)
            except SeqlabError:
                return
            for i in range(len(ds)):
                try:
                    ids = ds[i]
                except SeqlabError:
                    continue
                assert ids.numel() == ds.sizes[i]
                assert bool((ids >= 0).all()) and bool((ids < ds.vocab_size).all())
