"""--store-ema: the moving average of the weights, its schedule, ties, and exact resume."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from seqlab.core import ConfigError
from seqlab.core.checkpoint_io import load_checkpoint_file
from seqlab.core.weight_average import WeightAverage


class _Tied(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(5, 3)
        self.out = nn.Linear(3, 5, bias=False)
        self.out.weight = self.embed.weight  # one tensor under two names
        self.norm = nn.BatchNorm1d(3)


def _move(model: nn.Module, value: float) -> None:
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(value)
        model.norm.running_mean.fill_(value)


def test_the_average_follows_decay_start_and_frequency():
    model = _Tied()
    _move(model, 0.0)
    ema = WeightAverage(model, decay=0.75, start_update=2, update_freq=1)
    _move(model, 4.0)
    ema.step(1)  # before --ema-start-update: a copy
    assert torch.equal(ema.state_dict()["embed.weight"], torch.full((5, 3), 4.0))
    _move(model, 8.0)
    ema.step(2)  # 0.75 * 4 + 0.25 * 8
    assert torch.allclose(ema.state_dict()["embed.weight"], torch.full((5, 3), 5.0))
    assert ema.state_dict()["out.weight"] is ema.state_dict()["embed.weight"]  # still tied
    assert torch.equal(ema.state_dict()["norm.running_mean"], torch.full((3,), 8.0))  # buffers are copied
    every_third = WeightAverage(model, decay=0.5, update_freq=3)
    _move(model, 0.0)
    every_third.step(4)
    assert torch.equal(every_third.state_dict()["embed.weight"], torch.full((5, 3), 8.0))  # not due
    every_third.step(6)
    assert torch.equal(every_third.state_dict()["embed.weight"], torch.full((5, 3), 4.0))


@pytest.mark.parametrize(
    ("decay", "freq", "message"), [(1.5, 1, "--ema-decay"), (0.9, 0, "--ema-update-freq")]
)
def test_bad_settings_are_config_errors(decay, freq, message):
    with pytest.raises(ConfigError, match=message):
        WeightAverage(_Tied(), decay, update_freq=freq)


def test_a_resumed_run_averages_exactly_as_an_uninterrupted_one(tmp_path, train):
    ema = ["--store-ema", "--ema-decay", "0.9", "--ema-update-freq", "2"]
    assert train(tmp_path / "whole", "--max-epoch", "2", *ema).returncode == 0
    assert train(tmp_path / "cut", "--max-epoch", "1", *ema).returncode == 0
    assert train(tmp_path / "cut", "--max-epoch", "2", *ema).returncode == 0
    whole = load_checkpoint_file(str(tmp_path / "whole" / "checkpoint_last.pt"))
    cut = load_checkpoint_file(str(tmp_path / "cut" / "checkpoint_last.pt"))
    assert whole["ema"].keys() == whole["model"].keys()
    assert all(torch.equal(whole["ema"][k], cut["ema"][k]) for k in whole["ema"])
    assert any(not torch.equal(whole["ema"][k], whole["model"][k]) for k in whole["model"])
    plain = train(tmp_path / "plain", "--max-epoch", "1")
    assert plain.returncode == 0
    assert load_checkpoint_file(str(tmp_path / "plain" / "checkpoint_last.pt"))["ema"] is None


def test_ema_seed_model_starts_the_average_from_a_checkpoints_average(tmp_path, train):
    assert train(tmp_path / "seed", "--max-epoch", "1", "--store-ema", "--ema-decay", "0.5").returncode == 0
    seed = tmp_path / "seed" / "checkpoint_last.pt"
    # a decay of 1 keeps the average where it starts: the seed's own average
    run = train(
        tmp_path / "seeded",
        "--max-epoch",
        "1",
        "--store-ema",
        "--ema-decay",
        "1",
        "--ema-seed-model",
        str(seed),
    )
    assert run.returncode == 0, run.stderr
    seeded = load_checkpoint_file(str(tmp_path / "seeded" / "checkpoint_last.pt"))
    expected = load_checkpoint_file(str(seed))["ema"]
    assert all(torch.equal(seeded["ema"][k], expected[k]) for k in expected)
    assert any(not torch.equal(seeded["ema"][k], seeded["model"][k]) for k in expected)
    plain = train(tmp_path / "plain", "--max-epoch", "1")
    assert plain.returncode == 0
    bad = train(
        tmp_path / "bad",
        "--max-epoch",
        "1",
        "--store-ema",
        "--ema-seed-model",
        str(tmp_path / "plain" / "checkpoint_last.pt"),
    )
    assert bad.returncode != 0 and "holds no moving average" in bad.stderr
