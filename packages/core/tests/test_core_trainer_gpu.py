"""The Trainer on a CUDA GPU: bf16 and fp16 steps, fp16 overflow, and CUDA matching the CPU (skipped without one)."""

from __future__ import annotations

import re

import pytest
import torch

from seqlab.core import setup_task
from seqlab.core.options import parse
from seqlab.core.train_cli import SPEC
from seqlab.core.trainer import Trainer

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]

TOY = [
    "DATA",
    "--task",
    "toy_classification",
    "-a",
    "toy_classifier",
    "--criterion",
    "toy_ce",
    "--optimizer",
    "toy_sgd",
    "--lr-scheduler",
    "toy_warmup",
    "--batch-size",
    "8",
]


def _trainer(toy_dir: str, *extra: str) -> tuple[Trainer, dict]:
    args = parse(SPEC, [*TOY, "--user-dir", toy_dir, *extra]).args
    task = setup_task(args)
    task.load_dataset("train")
    torch.manual_seed(0)
    trainer = Trainer(args, task, task.build_model(args), task.build_criterion(args))
    data = task.dataset("train")
    return trainer, data.collater([data[i] for i in range(8)])


@pytest.fixture
def toy_dir():
    from pathlib import Path

    return str(Path(__file__).parent / "toy_training")


@pytest.mark.parametrize("precision", ["--bf16", "--fp16"])
def test_mixed_precision_steps_run_on_cuda(toy_dir, precision):
    trainer, sample = _trainer(toy_dir, precision)
    assert trainer.device.type == "cuda"
    for _ in range(3):
        out = trainer.train_step([sample])
    assert out is not None and trainer.num_updates == 3
    assert all(p.device.type == "cuda" and torch.isfinite(p).all() for p in trainer.model.parameters())


def test_fp16_overflow_lowers_the_scale_on_cuda(toy_dir):
    trainer, sample = _trainer(toy_dir, "--fp16", "--fp16-init-scale", "65536")
    handle = trainer.model.out.weight.register_hook(lambda g: torch.full_like(g, float("inf")))
    assert trainer.train_step([sample]) is None
    handle.remove()
    assert trainer.precision.loss_scale == 32768.0 and trainer.num_updates == 0


def test_short_cuda_run_matches_cpu_loss(train, tmp_path):
    losses = {}
    for device in ("cpu", "cuda"):
        proc = train(
            tmp_path / device,
            "--max-update",
            "6",
            "--dropout",
            "0",
            "--log-interval",
            "6",
            cpu=device == "cpu",
        )
        assert proc.returncode == 0, proc.stderr
        losses[device] = float(re.search(r"\| loss ([\d.]+) .*num_updates 6$", proc.stdout, re.M).group(1))
    assert losses["cuda"] == pytest.approx(losses["cpu"], abs=1e-3)  # TF32 off by default for fp32 matmul
