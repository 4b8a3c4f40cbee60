"""Whole training runs of seq-train's command line on toy plugins: resume, signals, distributed."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
import torch

from seqlab.core.checkpoint_io import FORMAT_VERSION, load_checkpoint_file

TOY_TRAINING = Path(__file__).parent / "toy_training"


def assert_same_state(a: dict, b: dict, exact: bool = True) -> None:
    assert a.keys() == b.keys()
    for key in a:
        if exact:
            assert torch.equal(a[key], b[key]), key
        else:
            torch.testing.assert_close(a[key], b[key], rtol=1e-5, atol=1e-6)


def test_dry_run_builds_everything_and_writes_nothing(tmp_path, train):
    proc = train(tmp_path / "ckpt", "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert "num. model params: 340 (num. trained: 340)" in proc.stdout
    assert not (tmp_path / "ckpt").exists()


def test_training_writes_self_contained_checkpoints(tmp_path, train):
    proc = train(tmp_path / "ckpt", "--max-epoch", "3")
    assert proc.returncode == 0, proc.stderr
    names = sorted(p.name for p in (tmp_path / "ckpt").iterdir())
    assert names == [
        "checkpoint1.pt",
        "checkpoint2.pt",
        "checkpoint3.pt",
        "checkpoint_best.pt",
        "checkpoint_last.pt",
    ]
    ckpt = load_checkpoint_file(str(tmp_path / "ckpt" / "checkpoint_last.pt"))
    assert ckpt["format_version"] == FORMAT_VERSION
    assert set(ckpt["model"]) == {
        "embed.weight",
        "layers.0.weight",
        "layers.0.bias",
        "layers.1.weight",
        "layers.1.bias",
        "out.weight",
        "out.bias",
    }
    assert ckpt["trainer"]["num_updates"] == 36 and ckpt["trainer"]["epoch"] == 3
    assert ckpt["config"]["arch"] == "toy_classifier" and ckpt["config"]["lr"] == [0.3]
    assert ckpt["plugins"]["arch"]["user_dir"] == str(TOY_TRAINING.resolve())
    assert ckpt["task_state"] == {"classes": 4, "vocab": 20}
    assert "seqlab-core" in ckpt["versions"]
    assert "epoch 003 | valid |" in proc.stdout and "num. model params" in proc.stdout


def test_keep_last_epochs_and_no_epoch_checkpoints(tmp_path, train):
    assert train(tmp_path / "a", "--max-epoch", "3", "--keep-last-epochs", "1").returncode == 0
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == [
        "checkpoint3.pt",
        "checkpoint_best.pt",
        "checkpoint_last.pt",
    ]
    assert train(tmp_path / "b", "--max-epoch", "2", "--no-epoch-checkpoints").returncode == 0
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == ["checkpoint_best.pt", "checkpoint_last.pt"]


def test_keep_best_checkpoints_keeps_the_n_lowest_validation_losses(tmp_path, train):
    proc = train(tmp_path, "--max-epoch", "6", "--keep-best-checkpoints", "2", "--no-epoch-checkpoints")
    assert proc.returncode == 0, proc.stderr
    losses = [float(v) for v in re.findall(r"\| valid \| loss ([\d.]+)", proc.stdout)]
    assert len(losses) == 6 and len(set(losses)) > 2, proc.stdout
    kept = sorted(p.name for p in tmp_path.glob("checkpoint.best_loss_*.pt"))
    assert kept == sorted(f"checkpoint.best_loss_{v:.3f}.pt" for v in sorted(losses)[:2])
    for name in kept:  # each is a whole checkpoint of the update that scored it
        checkpoint = load_checkpoint_file(str(tmp_path / name))
        epoch = [f"{v:.3f}" for v in losses].index(name[len("checkpoint.best_loss_") : -3]) + 1
        assert checkpoint["trainer"]["epoch"] == epoch and checkpoint["optimizer"] is not None


def test_no_last_checkpoints_and_no_optimizer_state(tmp_path, train):
    proc = train(tmp_path / "a", "--max-epoch", "2", "--no-last-checkpoints")
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == [
        "checkpoint1.pt",
        "checkpoint2.pt",
        "checkpoint_best.pt",
    ]
    assert train(tmp_path / "b", "--max-epoch", "1", "--no-save-optimizer-state").returncode == 0
    saved = load_checkpoint_file(str(tmp_path / "b" / "checkpoint_last.pt"))
    assert saved["optimizer"] is None and saved["model"]
    resumed = train(tmp_path / "b", "--max-epoch", "2", "--no-save-optimizer-state")
    assert resumed.returncode == 0, resumed.stderr
    log = resumed.stdout + resumed.stderr
    assert "holds no optimizer state (--no-save-optimizer-state): the optimizer starts afresh" in log
    assert "resumed from" in log
    assert load_checkpoint_file(str(tmp_path / "b" / "checkpoint_last.pt"))["trainer"]["epoch"] == 2


def test_exact_resume_after_sigkill_mid_epoch(tmp_path, train):
    extra = ["--max-update", "20", "--save-interval-updates", "3"]
    assert train(tmp_path / "full", *extra).returncode == 0
    killed = train(tmp_path / "cut", *extra, env={"TOY_SIGNAL_AT_UPDATE": "17", "TOY_SIGNAL": "KILL"})
    assert killed.returncode == -9
    mid = load_checkpoint_file(str(tmp_path / "cut" / "checkpoint_last.pt"))
    assert mid["trainer"]["num_updates"] == 15 and mid["trainer"]["iterator"]["iterations_in_epoch"] == 3
    resumed = train(tmp_path / "cut", *extra)
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed from" in resumed.stdout
    full = load_checkpoint_file(str(tmp_path / "full" / "checkpoint_last.pt"))
    cut = load_checkpoint_file(str(tmp_path / "cut" / "checkpoint_last.pt"))
    assert cut["trainer"]["num_updates"] == full["trainer"]["num_updates"] == 20
    assert_same_state(full["model"], cut["model"])
    for a, b in zip(full["optimizer"]["state"].values(), cut["optimizer"]["state"].values()):
        assert torch.equal(a["momentum_buffer"], b["momentum_buffer"])


def test_sigterm_saves_a_resumable_checkpoint_and_exits_0(tmp_path, train):
    proc = train(
        tmp_path / "ckpt", "--max-epoch", "2", env={"TOY_SIGNAL_AT_UPDATE": "5", "TOY_SIGNAL": "TERM"}
    )
    assert proc.returncode == 0, proc.stderr
    assert "received SIGTERM: saved checkpoint_last.pt at update 6" in proc.stdout
    ckpt = load_checkpoint_file(str(tmp_path / "ckpt" / "checkpoint_last.pt"))
    assert ckpt["trainer"]["num_updates"] == 6
    assert train(tmp_path / "ckpt", "--max-epoch", "2").returncode == 0
    assert load_checkpoint_file(str(tmp_path / "ckpt" / "checkpoint_last.pt"))["trainer"]["num_updates"] == 24


@pytest.mark.slow
def test_torchrun_two_ranks_match_one_rank_with_update_freq_2(tmp_path, train):
    one = train(tmp_path / "one", "--max-epoch", "2", "--update-freq", "2")
    assert one.returncode == 0, one.stderr
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", "-m"]
    two = train(tmp_path / "two", "--max-epoch", "2", launcher=launcher)
    assert two.returncode == 0, two.stderr
    a = load_checkpoint_file(str(tmp_path / "one" / "checkpoint_last.pt"))
    b = load_checkpoint_file(str(tmp_path / "two" / "checkpoint_last.pt"))
    assert a["trainer"]["num_updates"] == b["trainer"]["num_updates"] == 12
    assert_same_state(a["model"], b["model"], exact=False)


@pytest.mark.slow
def test_distributed_world_size_starts_ranks_through_torch_launcher(tmp_path, train):
    proc = train(tmp_path / "ws", "--max-epoch", "1", "--distributed-world-size", "2")
    assert proc.returncode == 0, proc.stderr
    ckpt = load_checkpoint_file(str(tmp_path / "ws" / "checkpoint_last.pt"))
    assert ckpt["trainer"]["num_updates"] == 6  # 12 batches dealt to 2 ranks


@pytest.mark.slow
def test_fairseqs_other_ddp_backends_train_as_c10d(tmp_path, train):
    runs = {}
    for backend in ("c10d", "legacy_ddp", "pytorch_ddp"):
        extra = ("--max-epoch", "1", "--distributed-world-size", "2", "--ddp-backend", backend)
        proc = train(tmp_path / backend, *extra)
        assert proc.returncode == 0, proc.stderr
        runs[backend] = load_checkpoint_file(str(tmp_path / backend / "checkpoint_last.pt"))["model"]
    assert_same_state(runs["c10d"], runs["legacy_ddp"], exact=True)
    assert_same_state(runs["c10d"], runs["pytorch_ddp"], exact=True)


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="lists threads through Linux's /proc")
def test_ranks_free_the_process_group_before_python_exits(tmp_path, train):
    # A gloo group still alive when the interpreter shuts down can abort the rank at exit. FSDP2 is
    # not covered: torch keeps its sharded modules alive through autograd hooks (torch 2.13).
    extra = ("--max-epoch", "1", "--distributed-world-size", "2")
    proc = train(tmp_path / "ws", *extra, env={"TOY_REPORT_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr
    reports = [line for line in proc.stdout.splitlines() if "threads at exit:" in line]
    assert len(reports) == 2, proc.stdout
    assert not [line for line in reports if "gloo" in line], reports


@pytest.mark.slow
def test_fully_sharded_checkpoints_load_under_ddp_and_match(tmp_path, train):
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", "-m"]
    ddp = train(tmp_path / "ddp", "--max-epoch", "2", launcher=launcher)
    assert ddp.returncode == 0, ddp.stderr
    first = train(tmp_path / "mixed", "--max-epoch", "1", "--ddp-backend", "fully_sharded", launcher=launcher)
    assert first.returncode == 0, first.stderr
    second = train(tmp_path / "mixed", "--max-epoch", "2", launcher=launcher)  # resumed under DDP
    assert second.returncode == 0, second.stderr
    a = load_checkpoint_file(str(tmp_path / "ddp" / "checkpoint_last.pt"))
    b = load_checkpoint_file(str(tmp_path / "mixed" / "checkpoint_last.pt"))
    assert a["trainer"]["num_updates"] == b["trainer"]["num_updates"] == 12
    assert_same_state(a["model"], b["model"], exact=False)


def test_logged_rates_time_the_whole_interval_from_the_first_update(tmp_path, train):
    # each update sleeps 0.2 s, so no interval can show more than 5 updates per second; the
    # first one did when its clock started at the end of the first update
    proc = train(
        tmp_path / "ckpt",
        *("--max-update", "3", "--log-interval", "1", "--log-format", "json", "--no-save"),
        env={"TOY_STEP_SECONDS": "0.2"},
    )
    assert proc.returncode == 0, proc.stderr
    logged = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    rates = [float(entry["ups"]) for entry in logged if "ups" in entry]
    assert len(rates) >= 3 and all(0 < rate <= 5.0 for rate in rates), rates
