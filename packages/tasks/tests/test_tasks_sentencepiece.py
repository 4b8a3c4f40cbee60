"""The sentencepiece wrapper: training, exact decode, and clear errors."""

from __future__ import annotations

import pickle

import pytest

from seqlab.core import SeqlabError
from seqlab.tasks.sentencepiece_model import SentencePieceModel

CORPUS = [
    "the quick brown fox jumps over the lazy dog",
    "a stitch in time saves nine",
    "  leading and trailing spaces  ",
    "tabs\tand\tcarriage\rreturns",
    "",
    "naïve café – déjà vu",
] * 30

TRICKY = [
    "",
    " ",
    "   three",
    "trailing   ",
    "double  space",
    "tab\tinside",
    "never seen: 日本語 ✓ 🙂",
    "control \x00\x01\x1f and \u2028 separators \x85",
    "\ufeffbom at start",
    "Ünïcödé NFKC-sensitive: ﬁ ① ｶ",
]


@pytest.fixture(scope="module", params=["unigram", "bpe"])
def model(request):
    return SentencePieceModel.train(CORPUS, vocab_size=320, model_type=request.param)


def test_decode_inverts_encode_for_tricky_text(model):
    for line in TRICKY:
        pieces = model.encode(line)
        assert all(" " not in p for p in pieces)
        assert model.decode(pieces) == line
        assert model.decode(" ".join(pieces)) == line


def test_unseen_characters_fall_back_to_bytes(model):
    pieces = model.encode("日")
    assert "<0xE6>" in pieces


def test_the_piece_marker_itself_decodes_as_a_space(model):
    # documented limit: U+2581 is sentencepiece's own space marker
    assert model.decode(model.encode("a\u2581b")) == "a b"


def test_save_load_and_pickle(tmp_path, model):
    path = tmp_path / "sentencepiece.model"
    model.save(str(path))
    loaded = SentencePieceModel.load(str(path))
    assert loaded.pieces() == model.pieces()
    clone = pickle.loads(pickle.dumps(model))
    assert clone.encode("the lazy fox") == model.encode("the lazy fox")


def test_special_pieces_are_only_unk(model):
    specials = [p for i, p in enumerate(model.pieces()) if model.is_special(i)]
    assert specials == ["<unk>"]


def test_errors_name_the_problem(tmp_path):
    with pytest.raises(SeqlabError, match="no non-empty line"):
        SentencePieceModel.train(["", ""], vocab_size=300)
    with pytest.raises(SeqlabError, match=r"a vocabulary of 50 pieces is too small .* at least \d+"):
        SentencePieceModel.train(CORPUS, vocab_size=50)
    with pytest.raises(SeqlabError, match="does not exist; seq-preprocess --bpe sentencepiece"):
        SentencePieceModel.load(str(tmp_path / "missing.model"))
    bad = tmp_path / "bad.model"
    bad.write_bytes(b"not a model")
    with pytest.raises(SeqlabError, match="is not a sentencepiece model"):
        SentencePieceModel.load(str(bad))
