"""GPT-2's byte-level BPE (``--bpe gpt2``) gives fairseq's ids and decodes back to the text.

fixtures/gpt2 holds a small ``encoder.json``/``vocab.bpe`` (300 merges learned on the first 3,000
lines of tiny Shakespeare), 66 other lines (and a few with accents, emoji, CJK, contractions and
odd whitespace) and the ids fairseq 0.12's GPT2BPE gave for each (``sample.fairseq-ids.txt``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from seqlab.core import ConfigError
from seqlab.tasks.gpt2_bpe import Gpt2Bpe, byte_characters

HERE = Path(__file__).parent / "fixtures" / "gpt2"


@pytest.fixture(scope="module")
def bpe() -> Gpt2Bpe:
    return Gpt2Bpe(str(HERE / "encoder.json"), str(HERE / "vocab.bpe"))


def _sample() -> list[str]:
    return (HERE / "sample.txt").read_text(encoding="utf-8").split("\n")[:-1]


def test_ids_are_fairseqs(bpe):
    theirs = (HERE / "sample.fairseq-ids.txt").read_text(encoding="utf-8").split("\n")[:-1]
    ours = [bpe.encode(line) for line in _sample()]
    assert len(ours) == len(theirs) == 66
    assert ours == theirs


def test_decoding_gives_the_text_back(bpe):
    for line in _sample():
        assert bpe.decode(bpe.encode(line)) == line
    # special symbols a model may print stay as they are
    assert bpe.decode(bpe.encode("To be") + " <unk> " + bpe.encode(" or not")) == "To be<unk> or not"


def test_every_byte_has_one_printable_character():
    table = byte_characters()
    assert len(table) == len(set(table.values())) == 256
    assert all(c.isprintable() and not c.isspace() for c in table.values())
    assert table[ord("A")] == "A" and table[ord(" ")] == "Ġ"  # GPT-2's well-known space mark


def test_merges_apply_lowest_rank_first(tmp_path):
    pieces = ["h", "e", "l", "o", "he", "ll", "hell", "hello", "lo"]
    (tmp_path / "encoder.json").write_text(json.dumps({p: i for i, p in enumerate(pieces)}))
    # "l o" ranks below "l l": in "hello" the "ll" merge comes first, so "lo" never forms
    (tmp_path / "vocab.bpe").write_text("#version: 0.2\nh e\nl l\nl o\nhe ll\nhell o\n")
    small = Gpt2Bpe(str(tmp_path / "encoder.json"), str(tmp_path / "vocab.bpe"))
    assert small.encode_ids("hello") == [7]
    assert small.encode_ids("hell") == [6]
    assert small.encode_ids("lol") == [8, 2]


def test_bad_files_are_named(tmp_path):
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ConfigError, match="--gpt2-encoder-json .*bad.json: not JSON"):
        Gpt2Bpe(str(tmp_path / "bad.json"), str(HERE / "vocab.bpe"))
    with pytest.raises(ConfigError, match="--gpt2-vocab-bpe: cannot read"):
        Gpt2Bpe(str(HERE / "encoder.json"), str(tmp_path / "missing.bpe"))
    (tmp_path / "three.bpe").write_text("a b c\n")
    with pytest.raises(ConfigError, match="merge 1 is not two pieces"):
        Gpt2Bpe(str(HERE / "encoder.json"), str(tmp_path / "three.bpe"))
