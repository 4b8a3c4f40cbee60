"""Byte characters (``--bpe bytes`` and ``byte_bpe``): encoding and decoding as fairseq 0.12 does.

fixtures/bytes/fairseq_bytes.json was written by fairseq 0.12 itself
(fixtures/bytes/make_fairseq_bytes.py, in the bench's fairseq environment).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from seqlab.tasks.byte_text import decode_bytes, encode_bytes

FAIRSEQ = json.loads((Path(__file__).parent / "fixtures" / "bytes" / "fairseq_bytes.json").read_text("utf-8"))
SPACE_ESCAPE = "\u2581"


def _fairseq_bytes_encode(line: str) -> str:
    """fairseq's ``Bytes.encode`` written with seqlab's byte characters: one token per byte."""
    return " ".join(encode_bytes(line).replace(" ", SPACE_ESCAPE))


def test_lines_encode_to_fairseqs_byte_tokens():
    assert len(FAIRSEQ["encoded"]) >= 8
    for line, tokens in FAIRSEQ["encoded"]:
        assert _fairseq_bytes_encode(line) == tokens, line


def test_tokens_decode_to_fairseqs_text():
    for line, text in FAIRSEQ["decoded"]:
        tokens = _fairseq_bytes_encode(line)
        assert decode_bytes(tokens.replace(" ", "").replace(SPACE_ESCAPE, " ")) == text, line


def test_cut_characters_are_dropped_as_fairseq_drops_them():
    for chars, text in FAIRSEQ["smart_decoded"]:
        assert decode_bytes(chars) == text, repr(chars)


@given(st.text(st.characters(blacklist_categories=("Cs",))))
def test_every_byte_is_one_visible_character_and_decodes_back(line):
    single_spaced = re.sub(r"\s+", " ", line)
    chars = encode_bytes(line)
    assert len(chars) == len(single_spaced.encode("utf-8"))
    assert all(c.isprintable() for c in chars)
    assert decode_bytes(chars) == single_spaced
