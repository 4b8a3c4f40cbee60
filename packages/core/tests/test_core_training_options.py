"""seq-train's logging, resetting, fine-tuning and stopping options on toy plugins."""

from __future__ import annotations

import json

import pytest
import torch

from seqlab.core.checkpoint_io import load_checkpoint_file


def test_json_log_format_and_log_file(tmp_path, train):
    log_file = tmp_path / "train.log"
    proc = train(tmp_path / "ckpt", "--max-epoch", "1", "--log-format", "json", "--log-file", str(log_file))
    assert proc.returncode == 0, proc.stderr
    records = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    tags = [r["tag"] for r in records]
    assert tags == ["train_inner", "train_inner", "train_inner", "valid", "train"]
    inner = records[0]
    assert inner["num_updates"] == 4 and inner["epoch"] == 1
    assert {"loss", "wps", "ups", "wpb", "bsz", "lr", "gnorm"} <= set(inner)
    assert "best_loss" in records[3]
    assert "num. model params" in log_file.read_text()


def test_no_save_writes_nothing(tmp_path, train):
    assert train(tmp_path / "ckpt", "--max-epoch", "1", "--no-save").returncode == 0
    assert not (tmp_path / "ckpt").exists()


def test_reset_optimizer_and_lr_scheduler_keep_the_update_count(tmp_path, train):
    extra = ["--warmup-updates", "100", "--log-interval", "1", "--log-format", "json"]
    assert train(tmp_path / "ckpt", "--max-epoch", "1", *extra).returncode == 0
    proc = train(tmp_path / "ckpt", "--max-epoch", "2", "--reset-optimizer", "--reset-lr-scheduler", *extra)
    assert proc.returncode == 0, proc.stderr
    first = next(json.loads(x) for x in proc.stdout.splitlines() if x.startswith('{"tag": "train_inner"'))
    assert first["num_updates"] == 13  # the update count continues
    assert first["lr"] == pytest.approx(0.3 * 14 / 100)  # the fresh schedule follows the update count


def test_reset_dataloader_restarts_at_epoch_1(tmp_path, train):
    assert train(tmp_path / "ckpt", "--max-epoch", "1").returncode == 0
    proc = train(tmp_path / "ckpt", "--max-epoch", "1", "--reset-dataloader")
    assert proc.returncode == 0 and "epoch 001 | train" in proc.stdout
    assert load_checkpoint_file(str(tmp_path / "ckpt" / "checkpoint_last.pt"))["trainer"]["num_updates"] == 24


def test_finetune_from_model_takes_only_weights(tmp_path, train):
    assert train(tmp_path / "base", "--max-epoch", "2").returncode == 0
    base = tmp_path / "base" / "checkpoint_last.pt"
    proc = train(tmp_path / "tuned", "--max-epoch", "1", "--finetune-from-model", str(base), "--lr", "0.0")
    assert proc.returncode == 0, proc.stderr
    assert "fine-tuning from the weights of" in proc.stdout
    a = load_checkpoint_file(str(base))["model"]
    b = load_checkpoint_file(str(tmp_path / "tuned" / "checkpoint_last.pt"))
    assert b["trainer"]["num_updates"] == 12 and b["trainer"]["epoch"] == 1
    assert all(torch.equal(a[k], b["model"][k]) for k in a)  # lr 0: the weights are the base's


def test_patience_stops_after_validations_without_improvement(tmp_path, train):
    proc = train(tmp_path / "ckpt", "--max-epoch", "30", "--lr", "0.0", "--patience", "2")
    assert proc.returncode == 0, proc.stderr
    assert "no improvement for --patience 2 validations" in proc.stdout
    assert load_checkpoint_file(str(tmp_path / "ckpt" / "checkpoint_last.pt"))["trainer"]["epoch"] == 3


def test_validate_and_save_interval_updates(tmp_path, train):
    proc = train(
        tmp_path / "ckpt",
        "--max-update",
        "10",
        "--validate-interval-updates",
        "5",
        "--save-interval-updates",
        "5",
        "--log-format",
        "json",
    )
    assert proc.returncode == 0, proc.stderr
    valid = [
        json.loads(x)["num_updates"] for x in proc.stdout.splitlines() if x.startswith('{"tag": "valid"')
    ]
    assert valid == [5, 10]
    names = {p.name for p in (tmp_path / "ckpt").iterdir()}
    assert {"checkpoint_1_5.pt", "checkpoint_1_10.pt", "checkpoint_best.pt", "checkpoint_last.pt"} <= names


def test_unwritable_save_dir_is_one_line(tmp_path, train):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    proc = train(blocker / "ckpt", "--max-epoch", "1")
    assert proc.returncode == 1
    assert "--save-dir" in proc.stderr and "Traceback" not in proc.stderr
    assert blocker.read_text() == "not a folder"


def test_validate_after_updates_and_max_valid_steps(tmp_path, train):
    # 12 updates an epoch: validation waits for update 30, so only epoch 3's (update 36) runs
    late = train(tmp_path / "a", "--max-epoch", "3", "--validate-after-updates", "30", "--log-format", "json")
    assert late.returncode == 0, late.stderr
    valid = [json.loads(x) for x in late.stdout.splitlines() if x.startswith('{"tag": "valid"')]
    assert [v["num_updates"] for v in valid] == [36]

    def valid_loss(folder: str, *extra: str) -> float:
        proc = train(tmp_path / folder, "--max-epoch", "1", "--log-format", "json", *extra)
        assert proc.returncode == 0, proc.stderr
        return next(json.loads(x) for x in proc.stdout.splitlines() if x.startswith('{"tag": "valid"'))[
            "loss"
        ]

    full = valid_loss("full")
    assert valid_loss("cap-above", "--max-valid-steps", "1000") == full  # more than the subset holds
    assert valid_loss("one-batch", "--nval", "1") != full  # fairseq's alias


def test_fixed_validation_seed_seeds_validation_and_leaves_training_random_numbers_alone():
    from argparse import Namespace

    from seqlab.core.train_loop import TrainingLoop

    loop = TrainingLoop.__new__(TrainingLoop)  # only validate() is exercised
    loop._validate = lambda: [float(torch.rand(1))]
    loop.args = Namespace(fixed_validation_seed=7)
    draws = []
    for training_seed in (0, 1):
        torch.manual_seed(training_seed)
        drawn = loop.validate()
        after = torch.rand(1)
        torch.manual_seed(training_seed)
        assert torch.equal(after, torch.rand(1))  # training's stream as if nothing was drawn
        draws.append(drawn)
    assert draws[0] == draws[1]  # validation's numbers come from the fixed seed
    loop.args = Namespace(fixed_validation_seed=None)
    torch.manual_seed(0)
    assert loop.validate() != draws[0]


def test_fairseq_aliases_set_the_same_options():
    from seqlab.core.options import parse
    from seqlab.core.train_cli import SPEC

    from .conftest import TRAIN_ARGS

    base = [*TRAIN_ARGS, "--cpu"]
    pairs = [
        (["--amp"], "fp16", True),
        (["--memory-efficient-fp16"], "fp16", True),
        (["--memory-efficient-bf16"], "bf16", True),
        (["--amp-init-scale", "4"], "fp16_init_scale", 4.0),
        (["--max-sentences-valid", "3"], "batch_size_valid", 3),
        (["--find-unused-parameters"], "find_unused_parameters", True),
    ]
    for argv, dest, value in pairs:
        assert getattr(parse(SPEC, [*base, *argv]).args, dest) == value, argv


def test_curriculum_trains_the_first_epochs_in_order(tmp_path, train):
    def weights(folder: str, *extra: str) -> dict:
        assert train(tmp_path / folder, "--max-epoch", "1", *extra).returncode == 0
        return load_checkpoint_file(str(tmp_path / folder / "checkpoint_last.pt"))["model"]

    shuffled, again, ordered = weights("a"), weights("b"), weights("c", "--curriculum", "1")
    assert all(torch.equal(shuffled[k], again[k]) for k in shuffled)  # the order is all that differs
    assert any(not torch.equal(shuffled[k], ordered[k]) for k in shuffled)
    again_ordered = weights("d", "--curriculum", "1")
    assert all(torch.equal(ordered[k], again_ordered[k]) for k in ordered)
