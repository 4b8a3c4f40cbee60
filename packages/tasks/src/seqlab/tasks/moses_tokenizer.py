"""Moses tokenization through sacremoses, as fairseq's ``--tokenizer moses`` applies it.

sacremoses is an optional dependency (``pip install 'seqlab-tasks[moses]'``); asking for
Moses without it is a one-line configuration error that says what to install.
"""

from __future__ import annotations

from typing import Any

from seqlab.core import ConfigError


def _sacremoses(flag: str) -> Any:
    try:
        import sacremoses
    except ImportError:
        raise ConfigError(
            f"{flag} moses needs sacremoses: pip install 'seqlab-tasks[moses]' (or sacremoses)"
        ) from None
    return sacremoses


class MosesTokenizer:
    """Tokenizes source text and detokenizes target text in the given languages."""

    def __init__(
        self,
        source_lang: str = "en",
        target_lang: str = "en",
        no_dash_splits: bool = False,
        no_escape: bool = False,
        flag: str = "--tokenizer",
    ) -> None:
        moses = _sacremoses(flag)
        self.tokenizer = moses.MosesTokenizer(lang=source_lang)
        self.detokenizer = moses.MosesDetokenizer(lang=target_lang)
        self.dash_splits = not no_dash_splits
        self.escape = not no_escape

    def encode(self, line: str) -> str:
        """The line tokenized (special characters escaped unless ``no_escape``)."""
        return self.tokenizer.tokenize(
            line, aggressive_dash_splits=self.dash_splits, return_str=True, escape=self.escape
        )

    def decode(self, line: str) -> str:
        """Tokenized text joined back into a sentence (escapes undone)."""
        return self.detokenizer.detokenize(line.split())
