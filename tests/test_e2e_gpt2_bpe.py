"""--bpe gpt2: a model trained on GPT-2-encoded text (ids as words, as fairseq prepares it) reads raw text."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from seqlab.tasks.gpt2_bpe import Gpt2Bpe

FILES = Path(__file__).parents[1] / "packages" / "tasks" / "tests" / "fixtures" / "gpt2"
RAW = [
    "First Citizen: Before we proceed any further, hear me speak.",
    "You are all resolved rather to die than to famish?",
    "Let us kill him, and we'll have corn at our own price.",
    "We are accounted poor citizens, the patricians good.",
]
FLAGS = [
    "--bpe",
    "gpt2",
    "--gpt2-encoder-json",
    str(FILES / "encoder.json"),
    "--gpt2-vocab-bpe",
    str(FILES / "vocab.bpe"),
]


def _tool(module: str, *argv: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", f"seqlab.cli.{module}", *argv],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("gpt2")
    bpe = Gpt2Bpe(str(FILES / "encoder.json"), str(FILES / "vocab.bpe"))
    encoded = "".join(bpe.encode(line) + "\n" for line in RAW)
    for split in ("train", "valid"):
        for lang in ("src", "tgt"):
            (root / f"{split}.{lang}").write_text(encoded, encoding="utf-8")
    proc = _tool(
        "preprocess", "-s", "src", "-t", "tgt", "--joined-dictionary", "--trainpref", str(root / "train"),
        "--validpref", str(root / "valid"), "--destdir", str(root / "bin"),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    proc = _tool(
        "train", str(root / "bin"), "--arch", "transformer", "--encoder-layers", "1", "--decoder-layers", "1",
        "--encoder-embed-dim", "16", "--decoder-embed-dim", "16", "--encoder-ffn-embed-dim", "16",
        "--decoder-ffn-embed-dim", "16", "--encoder-attention-heads", "1", "--decoder-attention-heads", "1",
        "--optimizer", "adam", "--lr", "0.001", "--max-tokens", "400", "--max-update", "2", "--cpu",
        "--save-dir", str(root / "ckpt"), "--no-epoch-checkpoints",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return root / "ckpt" / "checkpoint_last.pt"


def _column(out: str, tag: str) -> list[str]:
    return [line.split("\t")[-1] for line in out.splitlines() if line.startswith(f"{tag}-")]


def test_interactive_encodes_raw_text_with_gpt2_ids_and_decodes_the_output(checkpoint):
    bpe = Gpt2Bpe(str(FILES / "encoder.json"), str(FILES / "vocab.bpe"))
    proc = _tool(
        "interactive", "--path", str(checkpoint), "--beam", "2", "--max-len-b", "5", "--cpu", *FLAGS,
        stdin="\n".join(RAW[:2]) + "\n",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert _column(proc.stdout, "S") == [bpe.encode(line) for line in RAW[:2]]  # what the model read
    hypotheses, detokenized = _column(proc.stdout, "H"), _column(proc.stdout, "D")
    assert len(detokenized) == 2
    assert detokenized == [bpe.decode(h) for h in hypotheses]
    assert not any(word.isdigit() for line in detokenized for word in line.split())


def test_gpt2_without_its_files_is_a_one_line_error(checkpoint):
    proc = _tool("interactive", "--path", str(checkpoint), "--cpu", "--bpe", "gpt2", stdin="x\n")
    assert proc.returncode == 2
    assert "--bpe gpt2 needs GPT-2's files: add --gpt2-encoder-json" in proc.stderr
    assert "Traceback" not in proc.stderr
