"""--encoder-embed-path in seq-train: training starts from the file's vectors, and the checkpoint
generates without the file (its weights hold the embeddings)."""

from __future__ import annotations

import os
import subprocess
import sys

from seqlab.cli.generate import main as generate
from seqlab.core.checkpoint_io import load_checkpoint_file
from seqlab.core.dictionary import Dictionary

from .conftest import WORDS

LSTM = [
    *("--task", "translation", "--arch", "lstm", "--encoder-embed-dim", "8", "--encoder-hidden-size", "8"),
    *("--decoder-embed-dim", "8", "--decoder-hidden-size", "8", "--decoder-out-embed-dim", "8"),
    *("--optimizer", "adam", "--lr", "0.01", "--criterion", "cross_entropy", "--max-tokens", "200"),
    *("--seed", "1", "--cpu", "--log-format", "simple", "--no-epoch-checkpoints", "--disable-validation"),
]


def test_frozen_pretrained_embeddings_are_trained_around_and_not_needed_to_generate(
    copy_task, tmp_path, capsys
):
    data = copy_task("pretrained", 60, 5, 50)
    vectors = {w: [float(i + 1)] * 4 + [-float(i + 1)] * 4 for i, w in enumerate(WORDS)}
    path = tmp_path / "vectors.txt"
    path.write_text(
        f"{len(WORDS)} 8\n" + "".join(f"{w} {' '.join(map(str, v))}\n" for w, v in vectors.items())
    )
    save = tmp_path / "ckpt"
    argv = [str(data), *LSTM, "--encoder-embed-path", str(path), "--encoder-freeze-embed"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "seqlab.cli.train", *argv, "--max-update", "4", "--save-dir", str(save)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"--encoder-embed-path: {len(WORDS)} of the dictionary's" in proc.stdout + proc.stderr
    state = load_checkpoint_file(str(save / "checkpoint_last.pt"))["model"]
    src_dict = Dictionary.load(str(data / "dict.src.txt"))
    for word, vector in vectors.items():
        assert state["encoder.embed_tokens.weight"][src_dict.index(word)].tolist() == vector
    path.unlink()  # generation reads the checkpoint only
    assert generate([str(data), "--path", str(save / "checkpoint_last.pt"), "--gen-subset", "valid"]) == 0
    assert "Generate valid with beam=5" in capsys.readouterr().out
