"""The Trainer: accumulation equals one large batch, clear errors on divergence, fp16 overflow handling."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch

from seqlab.core import SeqlabError, setup_task
from seqlab.core.options import parse
from seqlab.core.train_cli import SPEC
from seqlab.core.trainer import Trainer

TOY = str(Path(__file__).parent / "toy_training")
BASE = [
    "DATA",
    "--user-dir",
    TOY,
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
    "--cpu",
]


def _setup(*extra: str):
    args = parse(SPEC, [*BASE, *extra]).args
    task = setup_task(args)
    task.load_dataset("train")
    torch.manual_seed(0)
    model = task.build_model(args)
    return args, task, model, task.build_criterion(args)


def _batches(task, size: int, count: int):
    data = task.dataset("train")
    return [data.collater([data[i] for i in range(k * size, (k + 1) * size)]) for k in range(count)]


def _merge(task, samples):
    data = task.dataset("train")
    ids = torch.cat([s["id"] for s in samples]).tolist()
    return data.collater([data[i] for i in ids])


def test_update_freq_equals_one_large_batch():
    args, task, model, criterion = _setup("--batch-size", "4", "--dropout", "0", "--lr", "0.5")
    small = Trainer(args, task, model, criterion)
    large = Trainer(args, task, copy.deepcopy(model), copy.deepcopy(criterion))
    batches = _batches(task, 4, 12)
    for u in range(3):
        micro = batches[4 * u : 4 * u + 4]
        small.train_step(micro)
        large.train_step([_merge(task, micro)])
    assert small.num_updates == large.num_updates == 3
    for a, b in zip(small.model.parameters(), large.model.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)  # summation order only


def test_gradients_are_normalised_by_summed_sample_size():
    args, task, model, criterion = _setup(
        "--batch-size", "4", "--dropout", "0", "--lr", "1.0", "--momentum", "0", "--warmup-updates", "0"
    )
    trainer = Trainer(args, task, model, criterion)
    sample = _batches(task, 4, 1)[0]
    reference = copy.deepcopy(model)
    loss = criterion(reference, sample)[0] / sample["nsentences"]
    loss.backward()
    expected = [p.detach() - p.grad for p in reference.parameters()]
    trainer.train_step([sample])
    for p, e in zip(model.parameters(), expected):
        torch.testing.assert_close(p.detach(), e)


def test_non_finite_loss_names_update_and_batch_ids():
    args, task, model, criterion = _setup("--batch-size", "4")
    trainer = Trainer(args, task, model, criterion)
    with torch.no_grad():
        model.out.weight.fill_(float("nan"))
    sample = _batches(task, 4, 1)[0]
    with pytest.raises(SeqlabError) as err:
        trainer.train_step([sample])
    msg = str(err.value)
    assert "non-finite loss" in msg and "at update 1" in msg
    assert "example ids [0, 1, 2, 3]" in msg


def test_clip_norm_limits_the_update():
    args, task, model, criterion = _setup(
        "--batch-size",
        "8",
        "--clip-norm",
        "1e-3",
        "--lr",
        "1.0",
        "--momentum",
        "0",
        "--warmup-updates",
        "0",
        "--dropout",
        "0",
    )
    before = [p.detach().clone() for p in model.parameters()]
    Trainer(args, task, model, criterion).train_step(_batches(task, 8, 1))
    delta = torch.sqrt(sum(((p.detach() - b) ** 2).sum() for p, b in zip(model.parameters(), before)))
    assert delta.item() == pytest.approx(1e-3, rel=1e-3)


def test_fp16_overflow_skips_the_step_and_lowers_the_scale():
    args, task, model, criterion = _setup("--batch-size", "4", "--fp16", "--fp16-init-scale", "1024")
    trainer = Trainer(args, task, model, criterion)
    sample = _batches(task, 4, 1)[0]
    before = [p.detach().clone() for p in model.parameters()]
    handle = model.out.weight.register_hook(lambda g: torch.full_like(g, float("inf")))
    assert trainer.train_step([sample]) is None
    handle.remove()
    assert trainer.num_updates == 0 and trainer.precision.loss_scale == 512.0
    assert all(torch.equal(p, b) for p, b in zip(model.parameters(), before))
    assert trainer.train_step([sample]) is not None and trainer.num_updates == 1


def test_fp16_and_bf16_are_exclusive():
    args, task, model, criterion = _setup("--batch-size", "4", "--fp16", "--bf16")
    with pytest.raises(SeqlabError, match="exclusive"):
        Trainer(args, task, model, criterion)


def test_bf16_autocast_step_runs_on_cpu():
    args, task, model, criterion = _setup("--batch-size", "4", "--bf16")
    trainer = Trainer(args, task, model, criterion)
    out = trainer.train_step(_batches(task, 4, 1))
    assert out is not None and torch.isfinite(torch.tensor(float(out[0]["loss"])))


@pytest.mark.parametrize(
    "flags, native, warned",
    [
        ("fpu sse2 avx512f", False, True),
        ("fpu avx512f avx512_bf16", True, False),
        ("fpu amx_bf16", True, False),
    ],
)
def test_bf16_on_a_cpu_without_native_bf16_warns(tmp_path, monkeypatch, caplog, flags, native, warned):
    from seqlab.core import precision

    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nflags\t\t: {flags}\n")
    assert precision.cpu_has_native_bf16(str(cpuinfo)) is native
    assert precision.cpu_has_native_bf16(str(tmp_path / "missing")) is None
    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: native)
    args, task, model, criterion = _setup("--batch-size", "4", "--bf16")
    with caplog.at_level("WARNING", logger="seqlab.core.precision"):
        Trainer(args, task, model, criterion)
    assert ("bf16 is emulated" in caplog.text) is warned
