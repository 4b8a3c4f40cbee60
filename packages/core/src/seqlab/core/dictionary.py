"""The symbol table of a vocabulary, with fairseq's API and ``dict.txt`` text format.

The text format is one ``symbol count`` per line (optionally followed by the flag
``#fairseq:overwrite``); the special symbols ``<s> <pad> </s> <unk>`` are implied
and never written, so a file from fairseq loads here and the other way round.
Files are read and written as UTF-8 with ``\\n`` as the only line break, so a
symbol may hold any other character, including ``\\r`` and Unicode line separators.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Callable, Iterable
from typing import IO, TYPE_CHECKING, Any

from .errors import SeqlabError

if TYPE_CHECKING:
    import torch

# torch is imported where tensors are made, so tools that only read and write
# dictionaries (seq-preprocess) start fast and fork cheaply.

_SPACE_NORMALIZER = re.compile(r"\s+")
OVERWRITE_FLAG = "#fairseq:overwrite"


def tokenize_line(line: str) -> list[str]:
    """Split a line on runs of whitespace (fairseq's default tokenizer)."""
    return _SPACE_NORMALIZER.sub(" ", line).strip().split()


def post_process(sentence: str, symbol: str | None) -> str:
    """Undo a subword segmentation in a detokenized string, as fairseq's ``post_process`` does.

    ``"sentencepiece"`` is fairseq's shortcut and strips outer spaces; the
    sentencepiece wrapper's ``decode`` is the exact inverse of its ``encode``.
    """
    if symbol is None or symbol == "none":
        return sentence
    if symbol == "sentencepiece":
        return sentence.replace(" ", "").replace("\u2581", " ").strip()
    if symbol == "wordpiece":
        return sentence.replace(" ", "").replace("_", " ").strip()
    if symbol == "letter":
        return sentence.replace(" ", "").replace("|", " ").strip()
    if symbol == "silence":
        return sentence.replace("<SIL>", "").strip()
    if symbol in ("subword_nmt", "@@ ", "@@"):
        marker = "@@ " if symbol == "subword_nmt" else symbol
        return (sentence + " ").replace(marker, "").rstrip()
    return (sentence + " ").replace(symbol, "").rstrip()


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates, e.g. from os.fsdecode of a non-UTF-8 name
        return False
    return True


class Dictionary:
    """A mapping from symbols to consecutive integer ids, with counts."""

    def __init__(
        self,
        *,
        bos: str = "<s>",
        pad: str = "<pad>",
        eos: str = "</s>",
        unk: str = "<unk>",
        extra_special_symbols: Iterable[str] | None = None,
    ) -> None:
        self.bos_word, self.unk_word, self.pad_word, self.eos_word = bos, unk, pad, eos
        self.symbols: list[str] = []
        self.count: list[int] = []
        self.indices: dict[str, int] = {}
        self.bos_index = self.add_symbol(bos)
        self.pad_index = self.add_symbol(pad)
        self.eos_index = self.add_symbol(eos)
        self.unk_index = self.add_symbol(unk)
        for symbol in extra_special_symbols or ():
            self.add_symbol(symbol)
        self.nspecial = len(self.symbols)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Dictionary) and self.indices == other.indices

    def __getitem__(self, idx: int) -> str:
        if 0 <= idx < len(self.symbols):
            return self.symbols[idx]
        return self.unk_word

    def __len__(self) -> int:
        return len(self.symbols)

    def __contains__(self, sym: str) -> bool:
        return sym in self.indices

    def index(self, sym: str) -> int:
        """Return the id of a symbol (the ``<unk>`` id when it is unknown)."""
        return self.indices.get(sym, self.unk_index)

    def bos(self) -> int:
        """Return the id of the beginning-of-sentence symbol."""
        return self.bos_index

    def pad(self) -> int:
        """Return the id of the padding symbol."""
        return self.pad_index

    def eos(self) -> int:
        """Return the id of the end-of-sentence symbol."""
        return self.eos_index

    def unk(self) -> int:
        """Return the id of the unknown symbol."""
        return self.unk_index

    def unk_string(self, escape: bool = False) -> str:
        """Return the unknown symbol, escaped as ``<<unk>>`` when asked (as fairseq does)."""
        return f"<{self.unk_word}>" if escape else self.unk_word

    def add_symbol(self, word: str, n: int = 1, overwrite: bool = False) -> int:
        """Add ``n`` occurrences of a symbol and return its id."""
        if word in self.indices and not overwrite:
            idx = self.indices[word]
            self.count[idx] += n
            return idx
        idx = len(self.symbols)
        self.indices[word] = idx
        self.symbols.append(word)
        self.count.append(n)
        return idx

    def update(self, new_dict: Dictionary) -> None:
        """Add every symbol and count of another dictionary."""
        for word, count in zip(new_dict.symbols, new_dict.count):
            self.add_symbol(word, n=count)

    def string(
        self,
        tensor: Any,
        bpe_symbol: str | None = None,
        escape_unk: bool = False,
        extra_symbols_to_ignore: Iterable[int] | None = None,
        unk_string: str | None = None,
        include_eos: bool = False,
        separator: str = " ",
    ) -> str:
        """Turn a 1-D tensor of ids into a string (a 2-D tensor gives one line per row).

        ``<s>``, ``<pad>`` and (unless ``include_eos``) ``</s>`` are left out.
        """
        if getattr(tensor, "ndim", 1) == 2:
            return "\n".join(
                self.string(
                    t, bpe_symbol, escape_unk, extra_symbols_to_ignore, unk_string, include_eos, separator
                )
                for t in tensor
            )
        ignore = set(extra_symbols_to_ignore or ())
        ignore.add(self.bos_index)
        ignore.add(self.pad_index)
        if not include_eos:
            ignore.add(self.eos_index)
        ids = tensor.tolist() if hasattr(tensor, "tolist") else list(tensor)
        unk = unk_string or self.unk_string(escape_unk)
        words = (unk if i == self.unk_index else self[i] for i in ids if i not in ignore)
        return post_process(separator.join(words), bpe_symbol)

    def dummy_sentence(self, length: int) -> torch.Tensor:
        """Return a random sentence of ``length`` ids ending with ``</s>`` (for dummy batches)."""
        import torch

        t = torch.randint(self.nspecial, max(len(self), self.nspecial + 1), (length,)).long()
        t[-1] = self.eos_index
        return t

    def finalize(self, threshold: int = -1, nwords: int = -1, padding_factor: int = 8) -> None:
        """Sort symbols by count (ties alphabetically) and keep the first ``nwords`` with ``threshold``+ counts.

        ``nwords`` counts the special symbols too (-1: keep all); the size is then
        padded with ``madeupwordNNNN`` symbols to a multiple of ``padding_factor``.
        """
        if nwords <= 0:
            nwords = len(self)
        new_symbols = self.symbols[: self.nspecial]
        new_count = self.count[: self.nspecial]
        new_indices = {s: i for i, s in enumerate(new_symbols)}
        rest = sorted(zip(self.symbols[self.nspecial :], self.count[self.nspecial :]))
        # Counter.most_common is a stable sort, so equal counts stay alphabetical
        for symbol, count in Counter(dict(rest)).most_common(max(nwords - self.nspecial, 0)):
            if count < threshold:
                break
            new_indices[symbol] = len(new_symbols)
            new_symbols.append(symbol)
            new_count.append(count)
        self.symbols, self.count, self.indices = new_symbols, new_count, new_indices
        self.pad_to_multiple_(padding_factor)

    def pad_to_multiple_(self, padding_factor: int) -> None:
        """Add ``madeupwordNNNN`` symbols until the size is a multiple of ``padding_factor``."""
        if padding_factor > 1:
            i = 0
            while len(self) % padding_factor != 0:
                self.add_symbol(f"madeupword{i:04d}", n=0)
                i += 1

    @classmethod
    def load(cls, f: str | os.PathLike | IO[str]) -> Dictionary:
        """Read a dictionary from a ``symbol count`` text file (a path or an open text file)."""
        d = cls()
        d.add_from_file(f)
        return d

    def add_from_file(self, f: str | os.PathLike | IO[str]) -> None:
        """Add the symbols of a ``symbol count`` text file, in file order."""
        if isinstance(f, (str, os.PathLike)):
            path = os.fspath(f)
            if not os.path.isfile(path):
                raise SeqlabError(
                    f"dictionary file {path} does not exist; seq-preprocess writes it "
                    "(dict.<lang>.txt, or dict.txt for language-model data) into --destdir"
                )
            try:
                with open(path, encoding="utf-8", newline="\n") as fd:
                    self._add_lines(fd, path)
            except UnicodeDecodeError as exc:
                raise SeqlabError(
                    f"dictionary file {path} is not UTF-8 text ({exc.reason} at byte {exc.start}); "
                    "rebuild it with seq-preprocess"
                ) from exc
            return
        self._add_lines(f, getattr(f, "name", "<dictionary>"))

    def _add_lines(self, lines: Iterable[str], where: str) -> None:
        for lineno, raw in enumerate(lines, start=1):
            line = raw.rstrip("\r\n")
            if not line.strip():
                continue
            overwrite = False
            head, _, last = line.rpartition(" ")
            if last == OVERWRITE_FLAG:
                overwrite = True
                head, _, last = head.rpartition(" ")
            if not head:
                raise SeqlabError(
                    f"{where}:{lineno}: expected '<symbol> <count> [{OVERWRITE_FLAG}]', got {line!r}"
                )
            try:
                count = int(last)
            except ValueError:
                raise SeqlabError(
                    f"{where}:{lineno}: the count {last!r} is not an integer; "
                    f"each line must be '<symbol> <count> [{OVERWRITE_FLAG}]'"
                ) from None
            if head in self.indices and not overwrite:
                raise SeqlabError(
                    f"{where}:{lineno}: duplicate symbol {head!r}; add {OVERWRITE_FLAG} at the end "
                    "of the line if it should replace the earlier one"
                )
            self.add_symbol(head, n=count, overwrite=overwrite)

    def save(self, f: str | os.PathLike | IO[str]) -> None:
        """Write the non-special symbols as ``symbol count`` lines (a path or an open text file)."""
        rows = self._file_lines()
        if isinstance(f, (str, os.PathLike)):
            parent = os.path.dirname(os.fspath(f))
            if parent:
                os.makedirs(parent, exist_ok=True)
            with open(f, "w", encoding="utf-8", newline="\n") as fd:
                fd.writelines(rows)
            return
        f.writelines(rows)

    def _file_lines(self) -> list[str]:
        """The lines of ``dict.txt``, checked before anything is written so a bad symbol leaves no partial file."""
        seen = set(self.symbols[: self.nspecial])
        rows = []
        for i in range(self.nspecial, len(self.symbols)):
            symbol = self.symbols[i]
            if not symbol or "\n" in symbol or not _is_utf8(symbol):
                raise SeqlabError(
                    f"cannot save symbol {symbol!r} (id {i}): a dictionary file holds one non-empty UTF-8 "
                    "symbol per line; remove it or fix the tokenizer that produced it"
                )
            # a symbol added again with overwrite=True must say so, or loading calls it a duplicate
            flag = f" {OVERWRITE_FLAG}" if symbol in seen else ""
            seen.add(symbol)
            rows.append(f"{symbol} {self.count[i]}{flag}\n")
        return rows

    def encode_line(
        self,
        line: str,
        line_tokenizer: Callable[[str], list[str]] = tokenize_line,
        add_if_not_exist: bool = True,
        consumer: Callable[[str, int], None] | None = None,
        append_eos: bool = True,
        reverse_order: bool = False,
    ) -> torch.Tensor:
        """Tokenize a line and return its ids as an IntTensor (``</s>`` appended by default)."""
        import torch

        words = line_tokenizer(line)
        if reverse_order:
            words = list(reversed(words))
        ids = torch.IntTensor(len(words) + 1 if append_eos else len(words))
        for i, word in enumerate(words):
            idx = self.add_symbol(word) if add_if_not_exist else self.index(word)
            if consumer is not None:
                consumer(word, idx)
            ids[i] = idx
        if append_eos:
            ids[len(words)] = self.eos_index
        return ids
