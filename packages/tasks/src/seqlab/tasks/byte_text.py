"""Text as one visible character per UTF-8 byte, fairseq's layout for ``--bpe bytes`` and ``byte_bpe``.

A printable Latin-1 byte (32-126, 161-172, 174-255) is written as itself; any other byte b as
the character 256 + b, so that a line of bytes is a line of visible characters that a
dictionary or a sentencepiece model can hold. Whitespace runs become one space first.
A model's output may hold bytes that are not UTF-8 (a character cut in the middle); decoding
then keeps the most characters that can be read, in order, and drops the rest, as fairseq's
``smart_byte_decode`` does.
"""

from __future__ import annotations

import re

_PRINTABLE = frozenset([*range(32, 127), *range(161, 173), *range(174, 256)])
_CHAR_OF_BYTE = tuple(chr(b) if b in _PRINTABLE else chr(256 + b) for b in range(256))
_BYTE_OF_CHAR = {c: b for b, c in enumerate(_CHAR_OF_BYTE)}
_WHITESPACE = re.compile(r"\s+")
#: the longest UTF-8 encoding of one character
_MAX_CHAR_BYTES = 4


def encode_bytes(line: str) -> str:
    """``line``'s UTF-8 bytes as byte characters (each whitespace run as one space first)."""
    return "".join(_CHAR_OF_BYTE[b] for b in _WHITESPACE.sub(" ", line).encode("utf-8"))


def decode_bytes(chars: str) -> str:
    """Byte characters back to text; of bytes that are not all UTF-8, the most characters readable."""
    raw = bytes(_BYTE_OF_CHAR[c] for c in chars if c in _BYTE_OF_CHAR)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return _most_characters(raw)


def _readable(piece: bytes) -> bool:
    try:
        piece.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _most_characters(raw: bytes) -> str:
    # best[i]: pieces readable in raw[:i]; start[i]: where the last of them starts (i - 1 with
    # best[i] == best[i - 1] when byte i - 1 is dropped). Ties keep the first choice found,
    # dropping before reading and shorter pieces before longer, which picks fairseq's reading.
    best, start = [0] * (len(raw) + 1), [0] * (len(raw) + 1)
    for i in range(1, len(raw) + 1):
        best[i], start[i] = best[i - 1], i - 1
        for width in range(1, min(_MAX_CHAR_BYTES, i) + 1):
            if best[i - width] + 1 > best[i] and _readable(raw[i - width : i]):
                best[i], start[i] = best[i - width] + 1, i - width
    pieces, i = [], len(raw)
    while i > 0:
        if best[i] == best[start[i]] + 1:
            pieces.append(raw[start[i] : i].decode("utf-8"))
        i = start[i]
    return "".join(reversed(pieces))
