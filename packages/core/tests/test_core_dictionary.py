"""Dictionary: fairseq's ids, text format, finalize and string conversion."""

from __future__ import annotations

import io

import pytest
import torch

from seqlab.core import SeqlabError
from seqlab.core.dictionary import Dictionary, post_process, tokenize_line


def test_special_symbols_have_fairseqs_ids():
    d = Dictionary()
    assert (d.bos(), d.pad(), d.eos(), d.unk()) == (0, 1, 2, 3)
    assert d.nspecial == 4 and len(d) == 4
    assert d.index("never-seen") == d.unk()
    assert d[99] == "<unk>"


def test_add_symbol_counts_and_returns_the_same_id():
    d = Dictionary()
    a = d.add_symbol("hello")
    b = d.add_symbol("hello", n=4)
    assert a == b == 4
    assert d.count[a] == 5
    assert "hello" in d and "bye" not in d


def test_encode_line_appends_eos_and_maps_unknowns():
    d = Dictionary()
    for w in ["the", "cat"]:
        d.add_symbol(w)
    ids = d.encode_line("the  cat\tsat", add_if_not_exist=False)
    assert ids.dtype == torch.int32
    assert ids.tolist() == [d.index("the"), d.index("cat"), d.unk(), d.eos()]
    rev = d.encode_line("the cat", add_if_not_exist=False, append_eos=False, reverse_order=True)
    assert rev.tolist() == [d.index("cat"), d.index("the")]


def test_encode_line_adds_new_words_and_calls_consumer():
    d = Dictionary()
    seen = []
    ids = d.encode_line("a b a", consumer=lambda w, i: seen.append((w, i)))
    assert ids.tolist() == [4, 5, 4, d.eos()]
    assert seen == [("a", 4), ("b", 5), ("a", 4)]


def test_string_skips_specials_and_handles_unk_and_2d():
    d = Dictionary()
    for w in ["hello", "world"]:
        d.add_symbol(w)
    t = torch.tensor([d.bos(), d.index("hello"), d.unk(), d.index("world"), d.eos(), d.pad()])
    assert d.string(t) == "hello <unk> world"
    assert d.string(t, escape_unk=True) == "hello <<unk>> world"
    assert d.string(t, unk_string="??") == "hello ?? world"
    assert d.string(t, include_eos=True) == "hello <unk> world </s>"
    assert d.string(torch.stack([t, t])) == "hello <unk> world\nhello <unk> world"


def test_string_undoes_subword_markers():
    d = Dictionary()
    for w in ["\u2581he", "llo", "\u2581world", "wor@@", "ld"]:
        d.add_symbol(w)
    ids = torch.tensor([d.index("\u2581he"), d.index("llo"), d.index("\u2581world")])
    assert d.string(ids, bpe_symbol="sentencepiece") == "hello world"
    assert d.string(torch.tensor([d.index("wor@@"), d.index("ld")]), bpe_symbol="@@ ") == "world"
    assert post_process("a@@ b c", "subword_nmt") == "ab c"


def test_finalize_sorts_by_count_then_alphabetically_and_pads():
    d = Dictionary()
    for word, n in [("b", 3), ("a", 3), ("c", 5), ("rare", 1)]:
        d.add_symbol(word, n=n)
    d.finalize(threshold=2, padding_factor=8)
    assert d.symbols[4:7] == ["c", "a", "b"]
    assert "rare" not in d
    assert len(d) == 8
    assert d.symbols[7] == "madeupword0000"


def test_finalize_nwords_counts_the_specials():
    d = Dictionary()
    for i in range(10):
        d.add_symbol(f"w{i}", n=10 - i)
    d.finalize(nwords=6, padding_factor=1)
    assert d.symbols == ["<s>", "<pad>", "</s>", "<unk>", "w0", "w1"]


def test_save_and_load_round_trip_odd_symbols(tmp_path):
    d = Dictionary()
    odd = ["plain", "tab\there", "cr\r", "\u2028sep", "\x85nel", "中文", "a b"]
    for i, w in enumerate(odd):
        d.add_symbol(w, n=i + 1)
    path = tmp_path / "sub" / "dict.txt"
    d.save(str(path))
    loaded = Dictionary.load(str(path))
    assert loaded == d
    assert loaded.symbols == d.symbols and loaded.count == d.count


def test_file_format_matches_fairseq():
    d = Dictionary.load(io.StringIO("hello 10\nworld 3\n"))
    assert d.index("hello") == 4 and d.count[4] == 10
    out = io.StringIO()
    d.save(out)
    assert out.getvalue() == "hello 10\nworld 3\n"


def test_overwrite_flag_and_duplicate_error():
    d = Dictionary.load(io.StringIO("x 1\nx 2 #fairseq:overwrite\n"))
    assert d.count[d.index("x")] == 2
    with pytest.raises(SeqlabError, match="duplicate symbol 'x'.*#fairseq:overwrite"):
        Dictionary.load(io.StringIO("x 1\nx 2\n"))


def test_bad_lines_and_missing_file_are_clear_errors(tmp_path):
    with pytest.raises(SeqlabError, match=r":2: the count 'many' is not an integer"):
        Dictionary.load(io.StringIO("ok 1\nbad many\n"))
    with pytest.raises(SeqlabError, match=r":1: expected '<symbol> <count>"):
        Dictionary.load(io.StringIO("lonely\n"))
    missing = tmp_path / "dict.de.txt"
    with pytest.raises(SeqlabError, match=f"{missing} does not exist; seq-preprocess writes it"):
        Dictionary.load(str(missing))


def test_tokenize_line_collapses_whitespace():
    assert tokenize_line("  a\t b \n") == ["a", "b"]
