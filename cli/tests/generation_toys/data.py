"""Small data directories written by seq-preprocess: translation with sentencepiece, and LM text."""

from __future__ import annotations

import random
from pathlib import Path

from seqlab.cli.preprocess import main as preprocess

WORDS = "the a small big dog cat runs sleeps in house garden today ünï ✓".split()
TEST_SRC = [
    "the small dog runs",
    "a cat sleeps in the house",
    "ünï ✓ today",
    "big dog",
    "the cat runs in the garden",
]
TEST_TGT = ["small dog the", "cat a sleeps house", "✓ ünï", "dog", "garden the in"]


def random_lines(n: int, seed: int, longest: int = 6) -> list[str]:
    """``n`` lines of 1 to ``longest`` random words."""
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(1, longest))) for _ in range(n)]


def _write(root: Path, files: dict[str, list[str]]) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for name, lines in files.items():
        (root / name).write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def translation_data(root: Path, seed: int = 1) -> Path:
    """``root/bin``: src-tgt data segmented by sentencepiece, with a held-out test split."""
    _write(
        root,
        {
            "train.src": random_lines(60, seed),
            "train.tgt": random_lines(60, seed + 1),
            "test.src": TEST_SRC,
            "test.tgt": TEST_TGT,
        },
    )
    dest = root / "bin"
    argv = ["-s", "src", "-t", "tgt", "--trainpref", str(root / "train"), "--testpref", str(root / "test")]
    argv += [
        "--destdir",
        str(dest),
        "--joined-dictionary",
        "--bpe",
        "sentencepiece",
        "--spm-vocab-size",
        "300",
    ]
    if preprocess(argv) != 0:
        raise RuntimeError("seq-preprocess failed on the translation data")
    return dest


def lm_data(root: Path) -> Path:
    """``root/lm``: monolingual data (whitespace tokens) with train and valid splits."""
    _write(root, {"train.txt": random_lines(80, 3, 9), "valid.txt": random_lines(12, 4, 9)})
    dest = root / "lm"
    argv = ["--only-source", "--trainpref", str(root / "train.txt"), "--validpref", str(root / "valid.txt")]
    if preprocess([*argv, "--destdir", str(dest)]) != 0:
        raise RuntimeError("seq-preprocess failed on the language-model data")
    return dest
