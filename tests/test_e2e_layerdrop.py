"""LayerDrop (``--encoder-layerdrop``/``--decoder-layerdrop``) in seq-train: it changes what is
trained, a resumed run skips the same layers, and DistributedDataParallel trains with it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from seqlab.core.checkpoint_io import load_checkpoint_file

TRAIN = [
    *("--task", "translation", "--arch", "transformer", "--encoder-layers", "3", "--decoder-layers", "3"),
    *("--encoder-embed-dim", "32", "--decoder-embed-dim", "32", "--encoder-ffn-embed-dim", "64"),
    *("--decoder-ffn-embed-dim", "64", "--encoder-attention-heads", "2", "--decoder-attention-heads", "2"),
    *("--optimizer", "adam", "--lr", "0.003", "--criterion", "cross_entropy", "--dropout", "0"),
    *("--max-tokens", "200", "--seed", "1", "--cpu", "--clip-norm", "1.0"),
    *("--log-format", "simple", "--no-epoch-checkpoints", "--disable-validation"),
]
LAYERDROP = ["--encoder-layerdrop", "0.5", "--decoder-layerdrop", "0.5"]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def data(copy_task) -> Path:
    return copy_task("layerdrop", 200, 7, 180)


def _train(data: Path, save: Path, *extra: str) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("SEQLAB_USER_DIRS", None)
    cmd = [sys.executable, "-m", "seqlab.cli.train", str(data), *TRAIN, "--save-dir", str(save), *extra]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return load_checkpoint_file(str(save / "checkpoint_last.pt"))["model"]


def test_layerdrop_changes_training_and_resumes_exactly(data, tmp_path):
    plain = _train(data, tmp_path / "plain", "--max-update", "6")
    straight = _train(data, tmp_path / "straight", *LAYERDROP, "--max-update", "6")
    assert any(not torch.equal(plain[k], straight[k]) for k in plain)
    _train(data, tmp_path / "resumed", *LAYERDROP, "--max-update", "3")
    resumed = _train(data, tmp_path / "resumed", *LAYERDROP, "--max-update", "6")
    assert straight.keys() == resumed.keys()
    for key in straight:
        assert torch.equal(straight[key], resumed[key]), key


def test_layerdrop_trains_under_distributed_data_parallel(data, tmp_path):
    # DDP waits for a gradient of every parameter unless told that some may get none
    # (without that, the ranks would wait for each other until --heartbeat-timeout)
    extra = ("--max-update", "4", "--distributed-world-size", "2", "--heartbeat-timeout", "120")
    model = _train(data, tmp_path / "ddp", *LAYERDROP, *extra)
    assert all(torch.isfinite(v).all() for v in model.values() if v.is_floating_point())


@pytest.mark.parametrize("flag", ["--encoder-layerdrop", "--decoder-layerdrop"])
def test_a_layerdrop_of_one_is_refused_in_one_line(data, tmp_path, flag):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable,
        "-m",
        "seqlab.cli.train",
        str(data),
        *TRAIN,
        "--save-dir",
        str(tmp_path),
        flag,
        "1",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 2 and f"{flag} must be at least 0 and below 1, not 1.0" in proc.stderr
    assert "Traceback" not in proc.stderr and not list(tmp_path.glob("*.pt"))


def test_a_pruned_model_fine_tunes_from_the_full_models_weights(data, tmp_path):
    full = _train(data, tmp_path / "full", *LAYERDROP, "--max-update", "3")
    source = str(tmp_path / "full" / "checkpoint_last.pt")
    keep = ["--encoder-layers-to-keep", "1", "--decoder-layers-to-keep", "0,2"]
    # lr 0: the one update leaves the weights as they were loaded
    pruned = _train(
        data, tmp_path / "pruned", *keep, "--finetune-from-model", source, "--max-update", "1", "--lr", "0"
    )
    assert {k.split(".")[2] for k in pruned if k.startswith("decoder.layers.")} == {"0", "1"}
    assert {k.split(".")[2] for k in pruned if k.startswith("encoder.layers.")} == {"0"}
    renumbered = {"encoder.layers.0.": "encoder.layers.1.", "decoder.layers.1.": "decoder.layers.2."}
    for key, value in pruned.items():
        origin = next((key.replace(a, b) for a, b in renumbered.items() if key.startswith(a)), key)
        assert torch.equal(value, full[origin]), key
    resumed = _train(data, tmp_path / "pruned", *keep, "--max-update", "2")  # its own checkpoint: no pruning
    assert resumed.keys() == pruned.keys()


def test_restoring_a_full_checkpoint_into_a_pruned_model_needs_a_fresh_optimizer(data, tmp_path):
    full = _train(data, tmp_path / "full", *LAYERDROP, "--max-update", "3")
    source = str(tmp_path / "full" / "checkpoint_last.pt")
    keep = ["--decoder-layers-to-keep", "0,2"]
    cmd = [sys.executable, "-m", "seqlab.cli.train", str(data), *TRAIN, *keep, "--restore-file", source]
    proc = subprocess.run(
        [*cmd, "--save-dir", str(tmp_path / "pruned"), "--max-update", "4"],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "holds optimizer state for other parameters than this model's" in proc.stderr
    assert "add --reset-optimizer" in proc.stderr
    # lr 0 (the scheduler's saved lr reset too): the update leaves the loaded weights as they were
    fresh = ["--reset-optimizer", "--reset-lr-scheduler", "--max-update", "4", "--lr", "0"]
    pruned = _train(data, tmp_path / "pruned", *keep, "--restore-file", source, *fresh)
    assert {k.split(".")[2] for k in pruned if k.startswith("decoder.layers.")} == {"0", "1"}
    assert torch.equal(pruned["decoder.layers.1.ffn.fc1.weight"], full["decoder.layers.2.ffn.fc1.weight"])
