"""Binarizer: chunking at line starts, parallel output equal to serial, counts and unknown rates."""

from __future__ import annotations

import numpy as np
import pytest

from seqlab.core import SeqlabError
from seqlab.tasks.binarizer import (
    Chunk,
    binarize_file,
    build_dictionary,
    count_tokens,
    find_chunks,
    read_lines,
)
from seqlab.tasks.data import IndexedDataset
from seqlab.tasks.sentencepiece_model import SentencePieceModel


def _text(tmp_path, lines, name="text.txt"):
    path = tmp_path / name
    path.write_bytes("".join(line + "\n" for line in lines).encode("utf-8"))
    return str(path)


def test_chunks_start_at_lines_and_cover_the_file(tmp_path):
    lines = [f"line {i} " + "x" * (i % 37) for i in range(500)]
    path = _text(tmp_path, lines)
    for workers, size in [(1, 1 << 20), (3, 1 << 20), (2, 100), (7, 1000)]:
        chunks = find_chunks(path, workers, chunk_bytes=size)
        assert chunks[0].start == 0
        assert all(a.end == b.start for a, b in zip(chunks, chunks[1:]))
        got = [line for c in chunks for line in read_lines(c)]
        assert got == lines


def test_lines_keep_carriage_returns_and_a_missing_final_newline(tmp_path):
    path = tmp_path / "raw.txt"
    path.write_bytes(b"a\r\n\nlast")
    assert list(read_lines(Chunk(str(path), 0, path.stat().st_size))) == ["a\r", "", "last"]


def test_non_utf8_input_names_file_and_byte(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes(b"ok\ncaf\xe9\n")
    with pytest.raises(SeqlabError, match=r"latin1\.txt: the line at byte 3 is not UTF-8"):
        list(read_lines(Chunk(str(path), 0, path.stat().st_size)))


def test_word_level_dictionary_and_binarization(tmp_path):
    lines = ["the cat sat", "the dog", "", "a rare word"]
    path = _text(tmp_path, lines)
    counts = count_tokens([path])
    assert counts["the"] == 2 and counts["rare"] == 1
    d = build_dictionary(counts, threshold=2, padding_factor=1)
    assert "the" in d and "cat" not in d
    stats = binarize_file(path, str(tmp_path / "out"), d)
    assert (stats.sentences, stats.tokens, stats.unknown) == (4, 12, 6)
    assert stats.unk_rate == pytest.approx(6 / 12)
    ds = IndexedDataset(str(tmp_path / "out"), expected_vocab_size=len(d))
    assert d.string(ds[0]) == "the <unk> <unk>"
    assert ds[2].tolist() == [d.eos()]


def test_parallel_binarization_equals_serial(tmp_path, monkeypatch):
    import seqlab.tasks.binarizer as binarizer

    monkeypatch.setattr(binarizer, "CHUNK_BYTES", 512)
    rng = np.random.RandomState(1)
    words = ["alpha", "beta", "gamma", "delta", "épsilon", "ζήτα"]
    lines = [" ".join(rng.choice(words, size=rng.randint(0, 12))) for _ in range(400)]
    path = _text(tmp_path, lines)
    spm = SentencePieceModel.train(lines, vocab_size=300)
    counts_serial = count_tokens([path], spm, workers=1)
    counts_parallel = count_tokens([path], spm, workers=2)
    assert counts_serial == counts_parallel
    d = build_dictionary(counts_serial, spm)
    assert len(d) >= len(spm) + 3  # every piece but <unk> is a symbol, plus the specials
    seen = []
    binarize_file(path, str(tmp_path / "serial"), d, spm, workers=1)
    binarize_file(path, str(tmp_path / "parallel"), d, spm, workers=2, progress=lambda b, n: seen.append(n))
    assert sum(seen) == len(lines) and len(seen) > 1
    for ext in (".bin", ".idx"):
        assert (tmp_path / f"serial{ext}").read_bytes() == (tmp_path / f"parallel{ext}").read_bytes()
    ds = IndexedDataset(str(tmp_path / "parallel"))
    assert [spm.decode(d.string(ds[i])) for i in range(len(ds))] == lines
