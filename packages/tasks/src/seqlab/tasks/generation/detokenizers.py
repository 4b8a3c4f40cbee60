"""``--eval-bleu-detok``: turn a hypothesis' or reference's tokens back into text before scoring.

``sentencepiece`` decodes with the data's model, ``space`` leaves the tokens joined by spaces,
``moses`` undoes Moses tokenization (sacremoses, installed with ``seqlab-tasks[moses]``) in the
language ``--eval-bleu-detok-args '{"target_lang": "de"}'`` names, as fairseq's ``moses``
tokenizer does, and ``auto`` is ``sentencepiece`` when the data has a model, else ``space``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from seqlab.core import ConfigError

from ..moses_tokenizer import MosesTokenizer

#: the keys fairseq's moses tokenizer takes; only the target language matters for detokenizing
MOSES_KEYS = ("source_lang", "target_lang", "moses_no_dash_splits", "moses_no_escape")


def build_detokenizer(kind: str, detok_args: str | None, sentencepiece: Any) -> Callable[[str], str] | None:
    """The function that detokenizes scored text (None: the text is scored as it is)."""
    options = _options(detok_args)
    if kind == "moses":
        return _moses(options)
    if options:
        raise ConfigError(f"--eval-bleu-detok-args applies to --eval-bleu-detok moses, not {kind}")
    if kind == "sentencepiece" and sentencepiece is None:
        raise ConfigError(
            "--eval-bleu-detok sentencepiece needs the sentencepiece model seq-preprocess --bpe "
            "sentencepiece writes into the data directory; use --eval-bleu-detok space"
        )
    if kind in ("auto", "sentencepiece") and sentencepiece is not None:
        return sentencepiece.decode
    return None


def _options(detok_args: str | None) -> dict[str, Any]:
    if not detok_args:
        return {}
    try:
        options = json.loads(detok_args)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f'--eval-bleu-detok-args must be a JSON object, e.g. \'{{"target_lang": "de"}}\': {exc}'
        ) from None
    if not isinstance(options, dict):
        raise ConfigError('--eval-bleu-detok-args must be a JSON object, e.g. \'{"target_lang": "de"}\'')
    return options


def _moses(options: dict[str, Any]) -> Callable[[str], str]:
    unknown = sorted(set(options) - set(MOSES_KEYS))
    if unknown:
        raise ConfigError(
            f"--eval-bleu-detok-args: unknown key {unknown[0]!r} for moses (known: {', '.join(MOSES_KEYS)})"
        )
    target = str(options.get("target_lang") or "en")
    return MosesTokenizer(target_lang=target, flag="--eval-bleu-detok").decode
