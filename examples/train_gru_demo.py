"""Train the contributed ``gru`` model with seq-train as an installed plugin: no --user-dir.

Writes a tiny corpus of its own (numbers as digits -> the same numbers spelt out in words),
binarizes it with seq-preprocess, trains ``--arch gru_tiny`` for a few updates, then checks
in the checkpoint that the model came from the seqlab-models-gru distribution and in the
JSON log that the training loss fell. Run it where seqlab-models-gru is installed (the nox
session ``example`` does):

    python examples/train_gru_demo.py [WORKDIR]
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

WORDS = "zero one two three four five six seven eight nine".split()
UPDATES = 60


def write_corpus(raw: Path, seed: int = 0) -> None:
    """Write ``train``/``valid`` pairs: ``3 1 4`` in ``.dig``, ``three one four`` in ``.txt``."""
    rng = random.Random(seed)
    raw.mkdir(parents=True)
    for split, n in (("train", 600), ("valid", 60)):
        digits = [[rng.randrange(10) for _ in range(rng.randint(1, 6))] for _ in range(n)]
        (raw / f"{split}.dig").write_text("".join(" ".join(map(str, d)) + "\n" for d in digits))
        (raw / f"{split}.txt").write_text("".join(" ".join(WORDS[i] for i in d) + "\n" for d in digits))


def tool(name: str) -> str:
    """The installed console script ``name``; fail in one line when it is missing."""
    path = shutil.which(name)
    if path is None:
        sys.exit(f"train_gru_demo: {name} is not on PATH; install seqlab-cli (pip install ./cli)")
    return path


def main(workdir: Path) -> int:
    """Preprocess, train and check; return the exit code."""
    write_corpus(workdir / "raw")
    subprocess.run(
        [
            tool("seq-preprocess"),
            *("--source-lang", "dig", "--target-lang", "txt"),
            *("--trainpref", str(workdir / "raw/train"), "--validpref", str(workdir / "raw/valid")),
            *("--destdir", str(workdir / "bin")),
        ],
        check=True,
    )
    train = subprocess.run(
        [
            tool("seq-train"),
            str(workdir / "bin"),
            *("--task", "translation", "--arch", "gru_tiny", "--criterion", "cross_entropy"),
            *("--optimizer", "adam", "--lr", "0.01", "--batch-size", "32", "--max-update", str(UPDATES)),
            *("--cpu", "--seed", "1", "--save-dir", str(workdir / "checkpoints"), "--no-epoch-checkpoints"),
            *("--log-format", "json", "--log-interval", "10"),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    records = [json.loads(line) for line in train.stdout.splitlines() if line.startswith("{")]
    losses = [r["loss"] for r in records if r.get("tag") == "train_inner"]
    checkpoint = torch.load(workdir / "checkpoints" / "checkpoint_last.pt", weights_only=True)
    model = checkpoint["plugins"]["arch"]
    problems = []
    if model.get("distribution") != "seqlab-models-gru":
        problems.append(f"the model came from {model}, not the seqlab-models-gru distribution")
    if checkpoint["trainer"]["num_updates"] != UPDATES:
        problems.append(f"trained {checkpoint['trainer']['num_updates']} updates, not {UPDATES}")
    if len(losses) < 2 or not losses[-1] < losses[0]:
        problems.append(f"the training loss did not fall: {losses}")
    if problems:
        print(train.stderr, file=sys.stderr)
        for problem in problems:
            print(f"train_gru_demo: {problem}", file=sys.stderr)
        return 1
    print(
        f"seq-train trained --arch gru_tiny from {model['distribution']} {model['version']} "
        f"(no --user-dir) for {UPDATES} updates: loss {losses[0]:.2f} -> {losses[-1]:.2f}"
    )
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1:
        sys.exit(main(Path(sys.argv[1])))
    with tempfile.TemporaryDirectory(prefix="gru-demo-") as tmp:
        sys.exit(main(Path(tmp)))
