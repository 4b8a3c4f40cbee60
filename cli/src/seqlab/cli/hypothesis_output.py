"""Hypotheses as fairseq prints them: ``S-``, ``T-``, ``H-``, ``D-`` and ``P-`` lines, scores in base 2."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from seqlab.core.dictionary import post_process
from seqlab.tasks.generation.alignment import alignment_text

#: fairseq reports hypothesis and token scores in base 2
LN2 = math.log(2)


class TextDecoder:
    """Token ids to text: ``--remove-bpe`` if given, else the checkpoint's sentencepiece model decodes;
    ``post`` (``--tokenizer``/``--bpe``, :mod:`.text_pipeline`) then turns the ``D-`` text back into plain text."""

    def __init__(
        self, remove_bpe: str | None, sentencepiece: Any = None, post: Callable[[str], str] | None = None
    ) -> None:
        self.remove_bpe = remove_bpe
        self.sentencepiece = sentencepiece if remove_bpe is None else None
        self.post = post

    def tokens(self, dictionary: Any, ids: Any, escape_unk: bool = False) -> str:
        """The tokens as a string (the ``H-`` text), BPE markers removed with ``--remove-bpe``."""
        return dictionary.string(ids.int().cpu(), self.remove_bpe, escape_unk=escape_unk)

    def join(self, words: list[str]) -> str:
        """Tokens joined as :meth:`tokens` joins them (for tokens changed after decoding)."""
        return post_process(" ".join(words), self.remove_bpe)

    def detokenize(self, text: str) -> str:
        """The text a reader sees (the ``D-`` text): sentencepiece pieces joined back, BPE removed, detokenized."""
        if self.sentencepiece is not None:
            text = self.sentencepiece.decode(text)
        return self.post(text) if self.post is not None else text


def hypothesis_lines(
    sample_id: int, hypo: dict[str, Any], text: str, detok: str, alignment: str | None = None
) -> list[str]:
    """The ``H-``, ``D-`` and ``P-`` lines of one hypothesis, and its ``A-`` line with ``alignment`` (hard, soft)."""
    score = hypo["score"] / LN2
    positional = " ".join(f"{x / LN2:.4f}" for x in hypo["positional_scores"].tolist())
    lines = [
        f"H-{sample_id}\t{score}\t{text}",
        f"D-{sample_id}\t{score}\t{detok}",
        f"P-{sample_id}\t{positional}",
    ]
    if alignment is not None:
        lines.append(f"A-{sample_id}\t{alignment_text(hypo['alignment'] or [], alignment)}")
    return lines
