"""The --tokenizer/--bpe pipeline's simple parts: fairseq's space tokenizer, character and byte "BPE"s."""

from __future__ import annotations

import argparse

import pytest

from seqlab.cli.text_pipeline import add_text_pipeline_args, build_text_pipeline


def _pipeline(*argv: str):
    parser = argparse.ArgumentParser()
    add_text_pipeline_args(parser)
    return build_text_pipeline(parser.parse_args(list(argv)), None, has_own_sentencepiece=False)


@pytest.mark.parametrize("line", ["To be,  or not", " leading", "é ü 😀", ""])
def test_characters_split_every_character_and_join_them_back(line):
    pipeline = _pipeline("--bpe", "characters")
    encoded = pipeline.encode(line)
    assert encoded.split() == [c if c != " " else "\u2581" for c in line]  # fairseq's Characters
    assert pipeline.decode(encoded) == line


@pytest.mark.parametrize("line", ["Zwei  Männer", "日本語 😀", "a\tb", ""])
def test_bytes_give_one_token_per_utf8_byte_and_join_them_back(line):
    pipeline = _pipeline("--bpe", "bytes")
    single_spaced = " ".join(line.split())
    tokens = pipeline.encode(line).split()
    assert len(tokens) == len(single_spaced.encode("utf-8"))
    assert tokens.count("\u2581") == single_spaced.count(" ")
    assert pipeline.decode(" ".join(tokens)) == single_spaced
    if "ä" in line:  # ä is C3 A4: two printable Latin-1 byte characters, as fairseq writes them
        assert tokens[tokens.index("M") + 1 : tokens.index("M") + 3] == ["\u00c3", "\u00a4"]


def test_byte_bpe_splits_byte_characters_with_its_sentencepiece_model(tmp_path):
    from seqlab.tasks.byte_text import encode_bytes
    from seqlab.tasks.sentencepiece_model import SentencePieceModel

    lines = ["Zwei Männer stehen am Straßenrand.", "Ein Hund läuft über die Wiese.", "日本語のテキスト"]
    model = SentencePieceModel.train(
        [encode_bytes(line) for line in lines for _ in range(30)], vocab_size=400
    )
    model.save(str(tmp_path / "bytes.model"))
    pipeline = _pipeline("--bpe", "byte_bpe", "--sentencepiece-model-path", str(tmp_path / "bytes.model"))
    for line in lines:
        tokens = pipeline.encode(line).split()
        assert len(tokens) < len(line.encode("utf-8"))  # pieces of several bytes
        assert "".join(tokens).replace("\u2581", " ").strip() == encode_bytes(line)
        assert pipeline.decode(" ".join(tokens)) == line


def test_no_flags_no_pipeline_and_the_space_tokenizer_normalises_spaces():
    assert _pipeline() is None
    assert _pipeline("--tokenizer", "space").encode(" a  b ") == "a b"
