"""--eval-bleu-detok: what turns scored tokens back into text, and its errors."""

from __future__ import annotations

import sys

import pytest

from seqlab.core import ConfigError
from seqlab.tasks.generation.detokenizers import build_detokenizer


class _Pieces:
    def decode(self, text: str) -> str:
        return text.replace(" ", "").replace("▁", " ").strip()


def test_moses_undoes_moses_tokenization_in_the_target_language():
    pytest.importorskip(
        "sacremoses", reason="sacremoses is seqlab-tasks[moses]'s; the tests session installs it"
    )
    detok = build_detokenizer("moses", '{"target_lang": "de", "source_lang": "en"}', None)
    assert detok("Ein Mann , der &quot; Hallo &quot; sagt .") == 'Ein Mann, der "Hallo" sagt.'
    assert build_detokenizer("moses", None, None)("it &apos;s fine .") == "it's fine."  # English by default


def test_sentencepiece_space_and_auto():
    pieces = _Pieces()
    assert build_detokenizer("auto", None, pieces)("▁a b ▁c") == "ab c"
    assert build_detokenizer("sentencepiece", None, pieces) == pieces.decode
    assert build_detokenizer("space", None, pieces) is None  # scored as the tokens are
    assert build_detokenizer("auto", None, None) is None


@pytest.mark.parametrize(
    "kind, detok_args, message",
    [
        ("moses", '{"target_language": "de"}', "unknown key 'target_language' for moses"),
        ("moses", "{target_lang: de}", "must be a JSON object"),
        ("moses", '["de"]', "must be a JSON object"),
        ("space", '{"target_lang": "de"}', "applies to --eval-bleu-detok moses, not space"),
        ("sentencepiece", None, "needs the sentencepiece model"),
    ],
)
def test_bad_detokenizer_options_are_config_errors(kind, detok_args, message):
    with pytest.raises(ConfigError, match=message):
        build_detokenizer(kind, detok_args, None)


def test_moses_without_sacremoses_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "sacremoses", None)  # an import of it now fails
    with pytest.raises(ConfigError, match=r"needs sacremoses: pip install 'seqlab-tasks\[moses\]'"):
        build_detokenizer("moses", None, None)
