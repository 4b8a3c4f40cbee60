"""subword-nmt BPE codes applied and removed as subword-nmt and fairseq's --bpe subword_nmt do."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from seqlab.core import ConfigError
from seqlab.tasks.subword_bpe import SubwordBpe

CODES = ["#version: 0.2", "a p", "ap p", "l e</w>", "c a", "ca t</w>", "x x"]


def _bpe(tmp_path, lines: list[str], **kwargs) -> SubwordBpe:
    path = tmp_path / "codes"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return SubwordBpe(str(path), **kwargs)


def test_merges_apply_by_rank_and_mark_every_piece_but_the_last(tmp_path):
    bpe = _bpe(tmp_path, CODES)
    # apple: a p p l e</w> -> ap p l e</w> -> app l e</w> -> app le</w>
    assert bpe.encode("apple cat dog  a") == "app@@ le cat d@@ o@@ g a"
    assert bpe.encode("xxx") == "xx@@ x"  # overlapping pairs: the leftmost merges first
    assert bpe.encode("catapple") == "ca@@ t@@ app@@ le"  # ca t</w> merges only at a word's end
    assert _bpe(tmp_path, CODES, separator="##").encode("apple") == "app## le"


def test_version_0_1_codes_treat_the_end_of_word_as_a_symbol(tmp_path):
    bpe = _bpe(tmp_path, ["a p", "ap p", "l e", "le </w>"])
    assert bpe.version == (0, 1)
    assert bpe.encode("apple") == "app@@ le"  # l e, then le </w>; the end mark is dropped


def test_fastbpe_codes_carry_counts_and_mark_word_ends_as_version_0_2(tmp_path):
    # fastBPE's learnbpe writes "a b count" and no header; checked once against fastBPE 0.1.0's
    # applybpe on 14,211 lines of tiny Shakespeare with 500 merges (the same tokens on every line)
    lines = ["a p 9", "ap p 7", "l e</w> 5", "c a 4", "ca t</w> 3", "x x 2"]
    bpe = _bpe(tmp_path, lines, fastbpe=True)
    assert bpe.version == (0, 2)
    assert bpe.encode("apple cat dog  a") == "app@@ le cat d@@ o@@ g a"
    with pytest.raises(ConfigError, match="is not a pair of symbols"):
        _bpe(tmp_path, lines)  # subword-nmt's codes have no counts


@given(st.lists(st.text(alphabet="acelptxd", min_size=1, max_size=9), max_size=6))
def test_decoding_gives_back_the_words(tmp_path_factory, words):
    bpe = _bpe(tmp_path_factory.mktemp("codes"), CODES)
    line = " ".join(words)
    assert bpe.decode(bpe.encode(line)) == line


@pytest.mark.parametrize(
    "lines, message",
    [
        (["#version: zero", "a b"], "line 1 is not a '#version: X.Y' header"),
        (["a b", "c"], "line 2 is not a pair of symbols"),
    ],
)
def test_malformed_codes_are_config_errors(tmp_path, lines, message):
    with pytest.raises(ConfigError, match=message):
        _bpe(tmp_path, lines)


def test_a_missing_codes_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="--bpe-codes: cannot read"):
        SubwordBpe(str(tmp_path / "nowhere"))
