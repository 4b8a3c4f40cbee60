"""Fuzzing the Dictionary: any text encodes and decodes back, any dict.txt loads or raises a SeqlabError.

Text mixes arbitrary Unicode with the awkward cases: every kind of whitespace,
empty lines, very long tokens, and tokens that look like the special symbols,
counts or the overwrite flag. A written ``dict.txt`` must load back to the same
symbols and counts, or saving must refuse with a SeqlabError; arbitrary bytes
given as ``dict.txt`` must load or raise a SeqlabError, never another exception.

How many examples each property ran: add ``--hypothesis-show-statistics`` to the pytest command.
"""

from __future__ import annotations

import io
import os
import tempfile

from hypothesis import example, given, settings
from hypothesis import strategies as st

from seqlab.core import SeqlabError
from seqlab.core.dictionary import OVERWRITE_FLAG, Dictionary, tokenize_line
from seqlab.core.testing import time_limit

FUZZ = settings(max_examples=200, deadline=None)
LIMIT_S = 10

#: tokens a tokenizer may produce that collide with the format or with fairseq's conventions
AWKWARD_TOKENS = [
    "<s>", "<pad>", "</s>", "<unk>", "<<unk>>", OVERWRITE_FLAG, "madeupword0000", "madeupword0001",
    "0", "-1", "1_000", "\u0663", "#", "\ufeff", "x" * 5000,
]  # fmt: skip
#: whitespace of every kind: str.split() separates on all of them, a dict file only on "\n"
SEPARATORS = [" ", "  ", "\t", "\r", "\r\n", "\x0b", "\x0c", "\x1c", "\x85", "\xa0", "\u2028", "\u3000"]

tokens = st.one_of(st.sampled_from(AWKWARD_TOKENS), st.text(min_size=1, max_size=30))
lines = st.one_of(
    st.text(max_size=80),
    st.builds(
        lambda words, seps: "".join(w + s for w, s in zip(words, seps)),
        st.lists(tokens, max_size=10),
        st.lists(st.sampled_from(SEPARATORS), min_size=10, max_size=10),
    ),
)
# symbols a program (not the tokenizer) may add: empty, newlines, lone surrogates included
any_symbols = st.one_of(
    st.sampled_from([*AWKWARD_TOKENS, "", " ", "\n", "a\nb", "a\r", "a 1", "\ud800"]),
    st.text(st.characters(), max_size=20),
)

SPECIAL_WORDS = {"<s>", "<pad>", "</s>"}  # ids string() leaves out, as fairseq does


def _expected_decode(line: str, d: Dictionary) -> str:
    """What string(encode_line(line)) gives: known tokens, <unk> for the rest, the specials dropped."""
    words = (w if w in d else d.unk_word for w in tokenize_line(line))
    return " ".join(w for w in words if w not in SPECIAL_WORDS)


def _saved(d: Dictionary) -> tuple[list[str], list[int]]:
    """What dict.txt records: every symbol, and the counts of the non-special ones."""
    return d.symbols, d.count[d.nspecial :]


def _round_trip(d: Dictionary) -> Dictionary:
    buf = io.StringIO()
    d.save(buf)
    buf.seek(0)
    return Dictionary.load(buf)


@FUZZ
@given(st.lists(lines, max_size=12))
@example(["a </s> <s> b <pad> <unk> c"])
@example(["madeupword0000 madeupword0001 x", ""])
def test_text_encodes_and_decodes_back_through_a_saved_dictionary(text):
    with time_limit(LIMIT_S, "building a dictionary"):
        d = Dictionary()
        for line in text:
            ids = d.encode_line(line)
            assert d.string(ids) == _expected_decode(line, d)
        d.finalize(padding_factor=8)
        assert len(d) % 8 == 0
        loaded = _round_trip(d)
        assert _saved(loaded) == _saved(d)
        for line in text:
            ids = loaded.encode_line(line, add_if_not_exist=False)
            assert ids.tolist() == d.encode_line(line, add_if_not_exist=False).tolist()
            assert loaded.string(ids) == _expected_decode(line, d)


@FUZZ
@given(st.lists(lines, max_size=6), st.lists(lines, max_size=6))
def test_unknown_words_decode_as_unk(known, unknown):
    d = Dictionary()
    for line in known:
        d.encode_line(line)
    for line in unknown:
        ids = d.encode_line(line, add_if_not_exist=False)
        assert all(0 <= i < len(d) for i in ids.tolist())
        assert d.string(ids) == _expected_decode(line, d)


@FUZZ
@given(
    st.lists(st.tuples(any_symbols, st.integers(-(10**30), 10**30), st.booleans()), max_size=12),
    st.booleans(),
)
@example([("", 1, False)], False)  # an empty symbol would be written as a line without one
@example([("a\nb", 1, False)], False)  # a newline would split the symbol's line in two
@example([("\ud800", 1, False)], True)  # a lone surrogate is not UTF-8
@example([("a", 1, False), ("a", 2, True)], False)  # a replaced symbol keeps its overwrite flag
@example([("<unk>", 5, True)], False)  # so does a replaced special symbol
def test_any_symbols_save_and_load_back_or_saving_refuses(entries, to_path):
    d = Dictionary()
    for symbol, count, overwrite in entries:
        d.add_symbol(symbol, n=count, overwrite=overwrite)
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "dict.txt")
        try:
            if to_path:
                d.save(path)
            else:
                with open(path, "w", encoding="utf-8", newline="\n") as f:
                    d.save(f)
        except SeqlabError:
            return
        loaded = Dictionary.load(path)
    assert _saved(loaded) == _saved(d)
    assert loaded.indices == d.indices


@FUZZ
@given(st.binary(max_size=300))
@example(b"\xff\xfe a 1\n")
@example(b"a 1\na 2\n")
@example(b"a " + b"9" * 5000 + b"\n")  # more digits than int() accepts
@example(b"a\r\n \n" + OVERWRITE_FLAG.encode() + b" 3 " + OVERWRITE_FLAG.encode() + b"\n")
def test_arbitrary_bytes_as_dict_file(raw):
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "dict.txt")
        with open(path, "wb") as f:
            f.write(raw)
        with time_limit(LIMIT_S, "loading a dictionary"):
            try:
                d = Dictionary.load(path)
            except SeqlabError:
                return
        again = _round_trip(d)
    assert _saved(again) == _saved(d)


@st.composite
def dict_files(draw: st.DrawFn) -> bytes:
    """Text close to the dict.txt format: lines of a symbol, a count and sometimes the flag."""
    rows = []
    for _ in range(draw(st.integers(0, 8))):
        symbol = draw(st.one_of(tokens, st.just("")))
        count = draw(st.one_of(st.integers(-5, 10**6).map(str), st.sampled_from(["", "x", "1.5", "\u0663"])))
        flag = draw(st.sampled_from(["", " " + OVERWRITE_FLAG, OVERWRITE_FLAG]))
        end = draw(st.sampled_from(["\n", "\r\n", ""]))
        rows.append(f"{symbol} {count}{flag}{end}")
    return "".join(rows).encode("utf-8")


@FUZZ
@given(dict_files())
def test_near_valid_dict_files_load_or_raise(raw):
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "dict.txt")
        with open(path, "wb") as f:
            f.write(raw)
        try:
            d = Dictionary.load(path)
        except SeqlabError as err:
            assert "\n" not in str(err)  # one line, as the tools print it
            return
    again = _round_trip(d)
    assert _saved(again) == _saved(d)


@FUZZ
@given(st.lists(st.integers(-(2**40), 2**40), max_size=20), st.booleans(), st.booleans())
def test_string_of_any_ids(ids, escape_unk, include_eos):
    d = Dictionary()
    d.encode_line("a b c")
    out = d.string(ids, escape_unk=escape_unk, include_eos=include_eos)
    assert isinstance(out, str)
    kept = [i for i in ids if i not in (d.bos(), d.pad()) and (include_eos or i != d.eos())]
    assert len(out.split(" ")) == len(kept) or (not kept and out == "")
