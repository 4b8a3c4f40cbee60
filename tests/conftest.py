"""Fixtures shared by the cross-package tests."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import pytest

from seqlab.cli.preprocess import main as preprocess

WORDS = "apple bird cat dog egg fish goat hat ink jam kite lamp".split()


@pytest.fixture(scope="module")
def copy_task(tmp_path_factory) -> Callable[[str, int, int, int], Path]:
    """Return ``make(name, sentences, max_words, train)``: a binarized copy task's folder.

    Sentences of 2 to ``max_words`` random words, the first ``train`` of them for training and
    the rest for validation; source and target dictionaries are kept apart (an untied projection).
    """

    def make(name: str, sentences: int, max_words: int, train: int) -> Path:
        root = tmp_path_factory.mktemp(name)
        rng = random.Random(0)
        lines = [
            " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, max_words))) for _ in range(sentences)
        ]
        for split, part in (("train", lines[:train]), ("valid", lines[train:])):
            for lang in ("src", "tgt"):
                text = "".join(f"{line}\n" for line in part)
                (root / f"{split}.{lang}").write_text(text, encoding="utf-8")
        argv = [*("-s", "src", "-t", "tgt"), "--trainpref", str(root / "train")]
        argv += ["--validpref", str(root / "valid"), "--destdir", str(root / "bin")]
        assert preprocess(argv) == 0
        return root / "bin"

    return make
