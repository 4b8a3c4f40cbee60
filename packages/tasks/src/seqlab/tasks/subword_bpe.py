"""Applying subword-nmt BPE codes (Sennrich et al.), as fairseq's ``--bpe subword_nmt`` does.

A codes file lists merge operations, most frequent first (``a b`` per line, optionally after a
``#version: 0.2`` header). A word is split into characters, the last one carrying the
end-of-word mark ``</w>`` (version 0.2; version 0.1 appends ``</w>`` as a symbol of its own),
and the pair of adjacent symbols with the lowest rank is merged everywhere in the word, again
and again, until no listed pair is left. Every piece but a word's last is written with the
separator (``@@``), so ``(x + " ").replace("@@ ", "")`` undoes it.

fastBPE (fairseq's ``--bpe fastbpe``) applies the same merges the same way, from a codes file
without a header whose lines carry each pair's count (``a b 1234``); it marks the end of a word
as version 0.2 does.
"""

from __future__ import annotations

import re
from functools import lru_cache

from seqlab.core import ConfigError

END = "</w>"


class SubwordBpe:
    """BPE codes applied to whitespace-separated words, and removed again."""

    def __init__(self, codes_path: str, separator: str = "@@", fastbpe: bool = False) -> None:
        try:
            with open(codes_path, encoding="utf-8") as f:
                lines = f.read().rstrip("\n").split("\n")
        except OSError as exc:
            raise ConfigError(f"--bpe-codes: cannot read {codes_path} ({exc.strerror})") from None
        self.version = (0, 2) if fastbpe else (0, 1)
        if lines and lines[0].startswith("#version:") and not fastbpe:
            match = re.fullmatch(r"#version:\s*(\d+)\.(\d+)\s*", lines[0])
            if match is None:
                raise ConfigError(f"--bpe-codes {codes_path}: line 1 is not a '#version: X.Y' header")
            self.version = (int(match.group(1)), int(match.group(2)))
            lines = lines[1:]
        self.ranks: dict[tuple[str, str], int] = {}
        for n, line in enumerate(lines):
            pair = tuple(line.strip("\r\n ").split(" "))
            if fastbpe and len(pair) == 3 and pair[2].isdigit():
                pair = pair[:2]  # fastBPE writes each merge's count after it
            if len(pair) != 2:
                raise ConfigError(
                    f"--bpe-codes {codes_path}: line {n + 1} is not a pair of symbols: {line!r}"
                )
            self.ranks.setdefault(pair, n)  # a repeated pair keeps its first (highest) rank
        self.separator = separator
        self._word = lru_cache(maxsize=2**16)(self._segment)

    def encode(self, line: str) -> str:
        """``line`` with every word split into its BPE pieces."""
        out: list[str] = []
        for word in line.split():
            pieces = self._word(word)
            out += [p + self.separator for p in pieces[:-1]]
            out.append(pieces[-1])
        return " ".join(out)

    def decode(self, line: str) -> str:
        """The pieces of ``line`` joined back into words."""
        return (line + " ").replace(self.separator + " ", "").rstrip()

    def _segment(self, word: str) -> tuple[str, ...]:
        if len(word) == 1:
            return (word,)
        if self.version == (0, 1):
            symbols = [*word, END]
        else:
            symbols = [*word[:-1], word[-1] + END]
        while len(symbols) > 1:
            ranked = [
                (self.ranks[pair], i)
                for i, pair in enumerate(zip(symbols, symbols[1:]))
                if pair in self.ranks
            ]
            if not ranked:
                break
            best = min(ranked)[0]
            first, second = next(p for p in zip(symbols, symbols[1:]) if self.ranks.get(p) == best)
            merged: list[str] = []
            i = 0
            while i < len(symbols):  # left to right, so an overlap (x x x) merges its first pair
                if i + 1 < len(symbols) and symbols[i] == first and symbols[i + 1] == second:
                    merged.append(first + second)
                    i += 2
                else:
                    merged.append(symbols[i])
                    i += 1
            symbols = merged
        if symbols[-1] == END:
            symbols = symbols[:-1]
        elif symbols[-1].endswith(END):
            symbols[-1] = symbols[-1][: -len(END)]
        return tuple(symbols)
