"""Fuzzing the binarizer: any UTF-8 text binarizes and decodes back line by line; other bytes raise a SeqlabError.

The files are written as bytes, so lines may hold ``\\r``, Unicode line
separators, odd whitespace, tokens that look like the special symbols, or be
empty, and the file may lack its final newline. A line is what lies between two
``\\n`` bytes, and a file is valid exactly when every line is UTF-8.

How many examples each property ran: add ``--hypothesis-show-statistics`` to the pytest command.
"""

from __future__ import annotations

import os
import tempfile

from hypothesis import example, given, settings
from hypothesis import strategies as st

from seqlab.core import SeqlabError
from seqlab.core.dictionary import Dictionary, tokenize_line
from seqlab.core.testing import time_limit
from seqlab.tasks.binarizer import binarize_file, build_dictionary, count_tokens, find_chunks, read_lines
from seqlab.tasks.data import IndexedDataset

FUZZ = settings(max_examples=150, deadline=None)
LIMIT_S = 20

AWKWARD = ["<s>", "</s>", "<pad>", "<unk>", "madeupword0000", "#fairseq:overwrite", "x" * 3000, "\ufeff"]
SEPARATORS = [" ", "\t", "\r", "\x0b", "\x0c", "\x1c", "\x85", "\xa0", "\u2028", "\u3000"]

words = st.one_of(
    st.sampled_from(AWKWARD), st.text(st.characters(codec="utf-8", exclude_characters="\n"), min_size=1)
)
lines = st.one_of(
    st.text(st.characters(codec="utf-8", exclude_characters="\n"), max_size=60),
    st.lists(st.tuples(words, st.sampled_from(SEPARATORS))).map(lambda ws: "".join(w + s for w, s in ws)),
)
texts = st.builds(
    lambda ls, final_newline: "\n".join(ls) + ("\n" if final_newline and ls else ""),
    st.lists(lines, max_size=10),
    st.booleans(),
).map(lambda t: t.encode("utf-8"))
# bytes near UTF-8 text: valid text with some bytes replaced, cut mid-character, or raw noise
damaged = st.one_of(
    st.binary(max_size=200),
    st.builds(
        lambda t, i, b: t[: i % (len(t) + 1)] + b + t[i % (len(t) + 1) :],
        texts,
        st.integers(0, 500),
        st.binary(min_size=1, max_size=3),
    ),
    texts.map(lambda t: t[:-1]),
)


def _lines_of(raw: bytes) -> list[bytes]:
    """The lines a file of these bytes holds: split at ``\\n``, no empty line after a final ``\\n``."""
    parts = raw.split(b"\n")
    return parts[:-1] if parts[-1] == b"" else parts


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _expected_decode(line: str, d: Dictionary) -> str:
    """What string() gives for a binarized line: known tokens, <unk> for the rest, no <s>/<pad>/</s>."""
    toks = (w if w in d else d.unk_word for w in tokenize_line(line))
    return " ".join(w for w in toks if w not in ("<s>", "<pad>", "</s>"))


def _write(folder: str, raw: bytes) -> str:
    path = os.path.join(folder, "text.txt")
    with open(path, "wb") as f:
        f.write(raw)
    return path


@FUZZ
@given(st.one_of(texts, damaged))
@example(b"a\r\nb \xe2\x80\xa8c\n\n</s> <unk>")
@example(b"ok\n\xff\n")
def test_text_binarizes_and_decodes_back_or_is_refused(raw):
    lines_ = [line.decode("utf-8") for line in _lines_of(raw)] if _is_utf8(raw) else None
    with tempfile.TemporaryDirectory() as folder, time_limit(LIMIT_S, "binarizing"):
        path = _write(folder, raw)
        prefix = os.path.join(folder, "train")
        try:
            d = build_dictionary(count_tokens([path]))
            stats = binarize_file(path, prefix, d)
        except SeqlabError as err:
            assert lines_ is None, f"valid UTF-8 refused: {err}"
            assert "not UTF-8" in str(err)
            return
        assert lines_ is not None, "bytes that are not UTF-8 were binarized"
        ds = IndexedDataset(prefix, expected_vocab_size=len(d))
        assert len(ds) == stats.sentences == len(lines_)
        assert stats.tokens == sum(len(tokenize_line(line)) + 1 for line in lines_)
        for i, line in enumerate(lines_):
            ids = ds[i]
            assert ids[-1].item() == d.eos()
            assert d.string(ids) == _expected_decode(line, d)


@FUZZ
@given(st.lists(lines, max_size=6), st.lists(lines, max_size=6))
def test_words_missing_from_the_dictionary_become_unk(known, other):
    with tempfile.TemporaryDirectory() as folder, time_limit(LIMIT_S, "binarizing"):
        d = build_dictionary(count_tokens([_write(folder, "\n".join(known).encode("utf-8"))]))
        raw = "".join(line + "\n" for line in other).encode("utf-8")
        prefix = os.path.join(folder, "valid")
        stats = binarize_file(_write(folder, raw), prefix, d)
        ds = IndexedDataset(prefix)
        unknown = 0
        for i, line in enumerate(other):
            assert d.string(ds[i]) == _expected_decode(line, d)
            unknown += sum(1 for w in tokenize_line(line) if w not in d or w == d.unk_word)
        assert stats.unknown == unknown


@FUZZ
@given(st.one_of(texts, damaged), st.integers(1, 4), st.integers(1, 64))
@example(b"\xe2\x80\xa8\n\xe2\x80\xa8", 3, 1)  # a chunk boundary inside a multi-byte character
def test_chunks_cover_every_line_once(raw, workers, chunk_bytes):
    with tempfile.TemporaryDirectory() as folder:
        path = _write(folder, raw)
        chunks = find_chunks(path, workers, chunk_bytes=chunk_bytes)
        assert sum(c.end - c.start for c in chunks) == len(raw)
        try:
            got = [line for chunk in chunks for line in read_lines(chunk)]
        except SeqlabError:
            assert not _is_utf8(raw)
            return
    assert got == [line.decode("utf-8") for line in _lines_of(raw)]
