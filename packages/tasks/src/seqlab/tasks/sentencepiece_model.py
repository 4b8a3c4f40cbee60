"""Sentencepiece subwords: train a BPE or unigram model, encode text to pieces, decode exactly.

Models trained here use the identity normalization (no NFKC), keep every space
(``remove_extra_whitespaces=False``) and fall back to UTF-8 byte pieces
(``<0xE4>``) for characters outside the vocabulary, so ``decode(encode(line))``
gives back ``line`` for any Unicode text without ``\\n`` with one exception:
U+2581 (``▁``), sentencepiece's own space marker, decodes as a space. A piece
never contains a space, so a space-joined string of pieces (what
``Dictionary.string`` gives) splits back into the same pieces.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterable, Iterator
from typing import Any, Literal

from seqlab.core import SeqlabError

ModelType = Literal["unigram", "bpe"]
#: the file seq-preprocess writes the model to, beside the dictionaries
MODEL_FILENAME = "sentencepiece.model"
#: sentences sampled for training at most (sentencepiece's own cap; more adds little)
MAX_TRAINING_SENTENCES = 10_000_000


def _spm() -> Any:
    import sentencepiece

    return sentencepiece


class SentencePieceModel:
    """A loaded sentencepiece model (its serialized bytes travel with pickles and checkpoints)."""

    def __init__(self, proto: bytes, path: str | None = None) -> None:
        self.proto = bytes(proto)
        self.path = path
        self._sp = _spm().SentencePieceProcessor()
        try:
            self._sp.LoadFromSerializedProto(self.proto)
        except (RuntimeError, OSError) as exc:
            where = path or "the serialized model"
            raise SeqlabError(
                f"{where} is not a sentencepiece model ({exc}); train one with seq-preprocess"
            ) from exc

    @classmethod
    def load(cls, path: str) -> SentencePieceModel:
        """Read a ``.model`` file."""
        if not os.path.isfile(path):
            raise SeqlabError(
                f"sentencepiece model {path} does not exist; seq-preprocess --bpe sentencepiece "
                f"--spm-vocab-size N writes {MODEL_FILENAME} into --destdir"
            )
        with open(path, "rb") as f:
            return cls(f.read(), path)

    @classmethod
    def train(
        cls,
        lines: Iterable[str],
        vocab_size: int,
        model_type: ModelType = "unigram",
        character_coverage: float = 0.9995,
        num_threads: int = 1,
    ) -> SentencePieceModel:
        """Train a model on ``lines`` with at most ``vocab_size`` pieces (fewer if the text has fewer)."""
        if model_type not in ("unigram", "bpe"):
            raise SeqlabError(f"unknown sentencepiece model type {model_type!r}; choose unigram or bpe")
        counted = _NonEmpty(lines)
        out = io.BytesIO()
        try:
            _spm().SentencePieceTrainer.train(
                sentence_iterator=iter(counted),
                model_writer=out,
                vocab_size=vocab_size,
                model_type=model_type,
                character_coverage=character_coverage,
                normalization_rule_name="identity",
                remove_extra_whitespaces=False,
                byte_fallback=True,
                hard_vocab_limit=False,
                unk_id=0,
                bos_id=-1,
                eos_id=-1,
                pad_id=-1,
                input_sentence_size=MAX_TRAINING_SENTENCES,
                shuffle_input_sentence=True,
                num_threads=max(1, num_threads),
                minloglevel=2,
            )
        except RuntimeError as exc:
            if counted.count == 0:
                raise SeqlabError(
                    "the training text for sentencepiece has no non-empty line; check --trainpref"
                ) from exc
            needed = re.search(r"required_chars\. (\d+) vs (\d+)", str(exc))
            if needed:
                raise SeqlabError(
                    f"a vocabulary of {needed.group(1)} pieces is too small for the {needed.group(2)} "
                    "characters and bytes the training text needs; raise --spm-vocab-size to at least "
                    f"{needed.group(2)} or lower --spm-character-coverage"
                ) from exc
            reason = str(exc).split("]")[-1].strip() or str(exc)
            raise SeqlabError(f"sentencepiece training failed: {reason}") from exc
        return cls(out.getvalue())

    def save(self, path: str) -> None:
        """Write the model as a ``.model`` file."""
        with open(path, "wb") as f:
            f.write(self.proto)

    def __len__(self) -> int:
        return self._sp.GetPieceSize()

    def __getstate__(self) -> dict[str, Any]:
        return {"proto": self.proto, "path": self.path}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["proto"], state["path"])  # type: ignore[misc]

    def pieces(self) -> list[str]:
        """Every piece, in id order."""
        return [self._sp.IdToPiece(i) for i in range(len(self))]

    def is_special(self, piece_id: int) -> bool:
        """Whether a piece id is a control or unknown symbol rather than text."""
        return bool(self._sp.IsControl(piece_id) or self._sp.IsUnknown(piece_id))

    def encode(self, line: str) -> list[str]:
        """Split a line into pieces."""
        return self._sp.Encode(line, out_type=str)

    def encode_ids(self, lines: list[str]) -> list[list[int]]:
        """Split many lines into piece ids at once."""
        return self._sp.Encode(lines, out_type=int)

    def decode(self, pieces: str | list[str]) -> str:
        """Join pieces (a list, or one string of space-separated pieces) back into text."""
        if isinstance(pieces, str):
            pieces = pieces.split(" ") if pieces else []
        return self._sp.DecodePieces(pieces)


class _NonEmpty:
    """Yields the lines sentencepiece can learn from and counts them."""

    def __init__(self, lines: Iterable[str]) -> None:
        self.lines = lines
        self.count = 0

    def __iter__(self) -> Iterator[str]:
        for line in self.lines:
            if line:
                self.count += 1
                yield line
