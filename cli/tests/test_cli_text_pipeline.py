"""The --tokenizer/--bpe pipeline's simple parts: fairseq's space tokenizer and character "BPE"."""

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


def test_no_flags_no_pipeline_and_the_space_tokenizer_normalises_spaces():
    assert _pipeline() is None
    assert _pipeline("--tokenizer", "space").encode(" a  b ") == "a b"
