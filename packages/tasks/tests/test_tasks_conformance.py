"""Every task seqlab-tasks declares passes the conformance kit, on tiny data binarized here.

The names come from the distribution's entry points; a task declared there without a data
recipe below fails ``test_every_declared_task_has_a_data_recipe``, so none goes unchecked.
"""

from __future__ import annotations

import importlib.metadata as md
import os
import random

import pytest

from seqlab.core.testing import check_registration, check_task
from seqlab.tasks.binarizer import binarize_file, build_dictionary, count_tokens
from seqlab.tasks.sentencepiece_model import MODEL_FILENAME, SentencePieceModel

TASKS = sorted(ep.name for ep in md.distribution("seqlab-tasks").entry_points if ep.group == "seqlab.tasks")
WORDS = "zero one two three four five six seven eight nine".split()


def _lines(n: int, seed: int) -> tuple[list[str], list[str]]:
    """Numbers as digits and the same numbers spelt out."""
    rng = random.Random(seed)
    digits = [[rng.randrange(10) for _ in range(rng.randint(1, 7))] for _ in range(n)]
    return [" ".join(map(str, d)) for d in digits], [" ".join(WORDS[i] for i in d) for d in digits]


def _write(path: str, lines: list[str]) -> str:
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.writelines(line + "\n" for line in lines)
    return path


def _sentencepiece(root: str, lines: list[str], enabled: bool) -> SentencePieceModel | None:
    """A sentencepiece model trained on ``lines`` and saved where the tasks look for it, if enabled."""
    if not enabled:
        return None
    spm = SentencePieceModel.train(lines, 300)  # its byte fallback alone takes 259 pieces
    spm.save(os.path.join(root, MODEL_FILENAME))
    return spm


def translation_data(root: str, sentencepiece: bool) -> list[str]:
    """A directory as seq-preprocess writes it for a dig-txt pair (joined dictionary)."""
    os.makedirs(root)
    splits = {"train": _lines(48, 0), "valid": _lines(9, 1)}
    raw = {
        (split, lang): _write(os.path.join(root, f"raw.{split}.{lang}"), lines)
        for split, pair in splits.items()
        for lang, lines in zip(("dig", "txt"), pair)
    }
    spm = _sentencepiece(
        root, [line for pair in splits.values() for side in pair for line in side], sentencepiece
    )
    d = build_dictionary(count_tokens([raw["train", "dig"], raw["train", "txt"]], spm), spm)
    for lang in ("dig", "txt"):
        d.save(os.path.join(root, f"dict.{lang}.txt"))
    for (split, lang), path in raw.items():
        binarize_file(path, os.path.join(root, f"{split}.dig-txt.{lang}"), d, spm)
    return [root]


def language_model_data(root: str, sentencepiece: bool) -> list[str]:
    """A directory as seq-preprocess --only-source writes it."""
    os.makedirs(root)
    splits = {"train": _lines(40, 2)[1], "valid": _lines(8, 3)[1]}
    raw = {split: _write(os.path.join(root, f"raw.{split}"), lines) for split, lines in splits.items()}
    spm = _sentencepiece(root, splits["train"], sentencepiece)
    d = build_dictionary(count_tokens([raw["train"]], spm), spm)
    d.save(os.path.join(root, "dict.txt"))
    for split, path in raw.items():
        binarize_file(path, os.path.join(root, split), d, spm)
    return [root, "--tokens-per-sample", "16"]


#: task -> (writes its data under a folder and returns the task's argv, option sets to check)
RECIPES = {
    "translation": (translation_data, [[], ["-s", "txt", "-t", "dig", "--left-pad-source", "False"]]),
    "language_modeling": (
        language_model_data,
        [[], ["--sample-break-mode", "eos"], ["--sample-break-mode", "complete"]],
    ),
}
CASES = [(name, i) for name in TASKS if name in RECIPES for i in range(len(RECIPES[name][1]))]


def test_every_declared_task_has_a_data_recipe():
    assert {"translation", "language_modeling"} <= set(TASKS)
    missing = sorted(set(TASKS) - set(RECIPES))
    assert not missing, f"add a data recipe to RECIPES for {missing}"


@pytest.mark.parametrize("name", TASKS)
def test_registers_idempotently_from_its_entry_point(name):
    check_registration("task", name, installed=True)


@pytest.mark.parametrize("name, variant", CASES, ids=[f"{n}-{i}" for n, i in CASES])
@pytest.mark.parametrize("sentencepiece", [False, True], ids=["words", "sentencepiece"])
def test_task_keeps_the_contract_on_both_splits(name, variant, sentencepiece, tmp_path):
    write, variants = RECIPES[name]
    argv = write(str(tmp_path / "data"), sentencepiece) + variants[variant]
    task = check_task(name, argv, max_tokens=48)
    assert len(task.dataset("train")) > 0
    check_task(name, argv, split="valid", max_tokens=None, batch_size=4)
