"""``seq-train --compile``: the compiled model trains as the eager one, resumes exactly, and writes
the same checkpoints. A compiler that cannot run is a case of ``test_e2e_bad_inputs.py``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from seqlab.core.checkpoint_io import load_checkpoint_file

TRAIN = [
    *("--task", "translation", "--arch", "transformer", "--encoder-layers", "1", "--decoder-layers", "1"),
    *("--encoder-embed-dim", "32", "--decoder-embed-dim", "32", "--encoder-ffn-embed-dim", "64"),
    *("--decoder-ffn-embed-dim", "64", "--encoder-attention-heads", "2", "--decoder-attention-heads", "2"),
    *("--optimizer", "adam", "--lr", "0.003", "--criterion", "label_smoothed_cross_entropy"),
    *("--label-smoothing", "0.1", "--max-tokens", "200", "--seed", "1"),
    *("--log-format", "simple", "--no-epoch-checkpoints", "--disable-validation"),
]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def data(copy_task) -> Path:
    """Binarized copy-task data of sentences of several lengths (several batch shapes)."""
    return copy_task("compile", 300, 9, 280)


def _train(data: Path, save: Path, *extra: str, cpu: bool = True) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("SEQLAB_USER_DIRS", None)
    cmd = [sys.executable, "-m", "seqlab.cli.train", str(data), *TRAIN, "--save-dir", str(save), *extra]
    proc = subprocess.run(
        cmd + (["--cpu"] if cpu else []), capture_output=True, text=True, timeout=900, env=env
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return load_checkpoint_file(str(save / "checkpoint_last.pt"))["model"]


def test_compiled_training_matches_eager_training(data, tmp_path):
    eager = _train(data, tmp_path / "eager", "--dropout", "0", "--max-update", "8")
    compiled = _train(data, tmp_path / "compiled", "--dropout", "0", "--max-update", "8", "--compile")
    # same parameter names: the checkpoint of a compiled run loads anywhere. Eight adam updates at
    # lr 0.003 move every weight far more than the tolerance, so an untrained run would not pass.
    assert compiled.keys() == eager.keys()
    for key in eager:
        a, b = _without_key_bias(key, compiled[key]), _without_key_bias(key, eager[key])
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5, msg=key)


def _without_key_bias(key: str, value: torch.Tensor) -> torch.Tensor:
    """``value`` less the attention keys' bias, whose gradient is zero but for rounding.

    A bias added to every key adds the same score to all keys of a query, which the softmax
    ignores; adam scales its rounding noise up to full steps, and eager and compiled kernels
    round differently. The query and value biases are kept.
    """
    if key.endswith("in_proj.bias"):  # queries, keys, values
        q, _, v = value.chunk(3)
        return torch.cat([q, v])
    if key.endswith("kv_proj.bias"):  # keys, values
        return value.chunk(2)[1]
    return value


def test_compiled_training_with_dropout_resumes_exactly(data, tmp_path):
    straight = _train(data, tmp_path / "straight", "--dropout", "0.1", "--max-update", "6", "--compile")
    _train(data, tmp_path / "resumed", "--dropout", "0.1", "--max-update", "3", "--compile")
    resumed = _train(data, tmp_path / "resumed", "--dropout", "0.1", "--max-update", "6", "--compile")
    assert straight.keys() == resumed.keys()
    for key in straight:
        assert torch.equal(straight[key], resumed[key]), key


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_compiled_training_on_a_gpu_matches_eager_training(data, tmp_path):
    eager = _train(data, tmp_path / "eager", "--dropout", "0", "--max-update", "8", cpu=False)
    compiled = _train(
        data, tmp_path / "compiled", "--dropout", "0", "--max-update", "8", "--compile", cpu=False
    )
    assert compiled.keys() == eager.keys()
    for key in eager:
        a, b = _without_key_bias(key, compiled[key]), _without_key_bias(key, eager[key])
        torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-4, msg=key)
