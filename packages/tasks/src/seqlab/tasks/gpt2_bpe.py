"""GPT-2's byte-level BPE (Radford et al., 2019), as fairseq's ``--bpe gpt2`` applies it.

Text is cut into pre-tokens (contractions, runs of letters, of digits, of other symbols, each
with its leading space, and whitespace), each pre-token's UTF-8 bytes are written as printable
characters (one per byte, so nothing is ever unknown), and the merges of ``vocab.bpe`` are
applied, lowest rank first, until none is left. Every resulting piece has an id in
``encoder.json``; as in fairseq, a line becomes those ids written as decimal words, which is
what the ``dict.txt`` of data prepared this way lists. Decoding maps the ids back to bytes, so
``decode(encode(x)) == x`` for any text.
"""

from __future__ import annotations

import json
from functools import lru_cache

from seqlab.core import ConfigError

# fairseq's and GPT-2's pre-tokenizer; \p{L} and \p{N} need the regex module (sacrebleu's dependency)
_PRETOKEN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""


@lru_cache(maxsize=1)
def byte_characters() -> dict[int, str]:
    """The printable character that stands for each byte: printable Latin-1 bytes stand for
    themselves, the others (controls, space, soft hyphen...) for code points from 256 on."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    table = {b: chr(b) for b in keep}
    extra = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + extra)
            extra += 1
    return table


def merge_pair(pieces: list[str], pair: tuple[str, str]) -> list[str]:
    """``pieces`` with every occurrence of ``pair``, left to right, joined into one piece."""
    out, i = [], 0
    while i < len(pieces):
        if i + 1 < len(pieces) and (pieces[i], pieces[i + 1]) == pair:
            out.append(pieces[i] + pieces[i + 1])
            i += 2
        else:
            out.append(pieces[i])
            i += 1
    return out


class Gpt2Bpe:
    """``encoder.json`` and ``vocab.bpe`` applied to raw text, and undone."""

    def __init__(self, encoder_json: str, vocab_bpe: str) -> None:
        import regex

        self._pretoken = regex.compile(_PRETOKEN)
        try:
            with open(encoder_json, encoding="utf-8") as f:
                self.encoder: dict[str, int] = json.load(f)
        except OSError as exc:
            raise ConfigError(f"--gpt2-encoder-json: cannot read {encoder_json} ({exc.strerror})") from None
        except json.JSONDecodeError as exc:
            raise ConfigError(
                f"--gpt2-encoder-json {encoder_json}: not JSON ({exc.msg}, line {exc.lineno})"
            ) from None
        if not isinstance(self.encoder, dict) or not all(isinstance(v, int) for v in self.encoder.values()):
            raise ConfigError(f"--gpt2-encoder-json {encoder_json}: not a map of pieces to ids")
        self.decoder = {v: k for k, v in self.encoder.items()}
        self.ranks = self._read_merges(vocab_bpe)
        self.bytes_of = {c: b for b, c in byte_characters().items()}
        self._cache: dict[str, list[str]] = {}

    @staticmethod
    def _read_merges(path: str) -> dict[tuple[str, str], int]:
        try:
            with open(path, encoding="utf-8") as f:
                lines = f.read().split("\n")
        except OSError as exc:
            raise ConfigError(f"--gpt2-vocab-bpe: cannot read {path} ({exc.strerror})") from None
        if lines and lines[0].startswith("#version"):
            lines = lines[1:]
        ranks: dict[tuple[str, str], int] = {}
        for n, line in enumerate(x for x in lines if x):
            pair = line.split()
            if len(pair) != 2:
                raise ConfigError(f"--gpt2-vocab-bpe {path}: merge {n + 1} is not two pieces: {line!r}")
            ranks.setdefault((pair[0], pair[1]), n)
        return ranks

    def _merge(self, token: str) -> list[str]:
        """The pieces of one pre-token (already in byte characters)."""
        if token in self._cache:
            return self._cache[token]
        pieces = list(token)
        while len(pieces) > 1:
            pairs = {(a, b) for a, b in zip(pieces, pieces[1:], strict=False)}
            best = min(pairs, key=lambda p: self.ranks.get(p, len(self.ranks)))
            if best not in self.ranks:
                break
            pieces = merge_pair(pieces, best)
        if len(self._cache) < 100_000:
            self._cache[token] = pieces
        return pieces

    def encode_ids(self, text: str) -> list[int]:
        """The GPT-2 ids of ``text``."""
        chars = byte_characters()
        ids = []
        for token in self._pretoken.findall(text):
            for piece in self._merge("".join(chars[b] for b in token.encode("utf-8"))):
                if piece not in self.encoder:
                    raise ConfigError(
                        f"--gpt2-encoder-json has no id for the piece {piece!r}; use the files of one model"
                    )
                ids.append(self.encoder[piece])
        return ids

    def encode(self, line: str) -> str:
        """A line as fairseq writes it for a model: its GPT-2 ids as decimal words."""
        return " ".join(str(i) for i in self.encode_ids(line))

    def decode(self, text: str) -> str:
        """Words of ids (and special symbols such as ``<unk>``, kept as they are) back to text."""
        data = bytearray()  # pieces may split a character's bytes: decoded once, at the end
        for word in text.split():
            if word.isdigit() and int(word) in self.decoder:
                data.extend(self.bytes_of[c] for c in self.decoder[int(word)])
            else:
                data.extend(word.encode("utf-8"))
        return data.decode("utf-8", errors="replace")
