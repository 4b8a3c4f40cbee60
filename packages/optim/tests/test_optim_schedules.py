"""Every lr schedule against its closed form, and resumed from a checkpoint mid-schedule."""

from __future__ import annotations

import argparse
import io
import math

import pytest
import torch

from seqlab.core import ConfigError, LRScheduler, build_lr_scheduler, build_optimizer


def make(name: str, **options: object) -> LRScheduler:
    """Build schedule ``name`` over a fresh SGD optimizer from flat args."""
    options.setdefault("lr", [0.1])
    args = argparse.Namespace(optimizer="sgd", lr_scheduler=name, **options)
    optimizer = build_optimizer(args, [torch.nn.Parameter(torch.zeros(2))])
    return build_lr_scheduler(args, optimizer)


def curve(schedule: LRScheduler, updates: list[int]) -> list[float]:
    """The lrs that ``step_update`` returns at each update number, checking it sets them too."""
    out = []
    for n in updates:
        lr = schedule.step_update(n)
        assert schedule.optimizer.get_lr() == lr
        out.append(lr)
    return out


def roundtrip(state: dict) -> dict:
    """Save and reload as a checkpoint does (``torch.load(weights_only=True)``)."""
    buf = io.BytesIO()
    torch.save(state, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


# --- closed forms ---------------------------------------------------------------------------


def test_fixed_warmup_then_per_epoch_lrs_then_annealing() -> None:
    s = make("fixed", lr=[1.0, 0.5, 0.25], warmup_updates=4, force_anneal=5, lr_shrink=0.1)
    assert s.step_begin_epoch(1) == pytest.approx(1.0 / 4)
    assert curve(s, [0, 1, 2, 3, 4, 10]) == pytest.approx([0.25, 0.5, 0.75, 1.0, 1.0, 1.0])
    assert s.step_begin_epoch(2) == 0.5
    assert s.step_update(11) == 0.5
    assert s.step_begin_epoch(3) == 0.25
    assert s.step_begin_epoch(4) == 0.25  # past the list: its last value
    assert s.step_begin_epoch(5) == pytest.approx(0.25 * 0.1)  # lr[-1] * shrink ** (e + 1 - force_anneal)
    assert s.step_begin_epoch(7) == pytest.approx(0.25 * 0.1**3)
    assert s.step_update(50) == pytest.approx(0.25 * 0.1**3)
    assert s.step(7, val_loss=3.0) == pytest.approx(0.25 * 0.1**3)
    assert s.best == 3.0


def test_inverse_sqrt_warmup_peak_and_decay() -> None:
    s = make("inverse_sqrt", lr=[5e-4], warmup_updates=4000, warmup_init_lr=1e-7)
    assert s.optimizer.get_lr() == 1e-7  # set at construction
    got = curve(s, [0, 2000, 3999, 4000, 16000, 64000])
    step = (5e-4 - 1e-7) / 4000
    expected = [1e-7, 1e-7 + 2000 * step, 1e-7 + 3999 * step, 5e-4, 5e-4 / 2, 5e-4 / 4]
    assert got == pytest.approx(expected, rel=1e-12)
    assert make("inverse_sqrt", lr=[1.0], warmup_updates=10).step_update(5) == pytest.approx(0.5)


def test_cosine_warmup_anneal_and_restarts() -> None:
    s = make("cosine", lr=[1.0], min_lr=0.1, warmup_updates=10, lr_period_updates=100, lr_shrink=0.5)
    assert s.optimizer.get_lr() == 0.1  # warmup starts at the floor by default
    got = curve(s, [0, 5, 10, 35, 60, 110, 160])
    cos = lambda f, lo, hi: lo + 0.5 * (hi - lo) * (1 + math.cos(math.pi * f))  # noqa: E731
    expected = [
        0.1,
        0.1 + 5 * 0.09,  # linear warmup
        1.0,  # peak at the end of warmup
        cos(0.25, 0.1, 1.0),
        cos(0.5, 0.1, 1.0),
        0.5,  # restart: peak * lr_shrink
        cos(0.5, 0.05, 0.5),
    ]
    assert got == pytest.approx(expected)


def test_cosine_growing_periods() -> None:
    # t_mult 2: periods of 10, 20, 40 updates
    s = make("cosine", lr=[1.0], lr_period_updates=10, t_mult=2.0, lr_shrink=1.0)
    got = curve(s, [0, 5, 10, 20, 30, 50])
    expected = [1.0, 0.5, 1.0, 0.5, 1.0, 0.5]
    assert got == pytest.approx(expected, abs=1e-12)


def test_cosine_period_from_max_update_and_old_max_lr_spelling() -> None:
    s = make("cosine", lr=[1e-5], max_lr=1e-3, max_update=110, warmup_updates=10)
    assert s.optimizer.get_lr() == 1e-5  # older fairseq: --lr is the floor and the warmup start
    # the period is --max-update minus warmup; past it the curve restarts, shrunk by --lr-shrink
    assert curve(s, [10, 60, 110]) == pytest.approx([1e-3, (1e-3 + 1e-5) / 2, 1e-4])
    with pytest.raises(ConfigError, match="--lr-period-updates or --max-update"):
        make("cosine", lr=[1.0])


def test_polynomial_decay_warmup_decay_and_end() -> None:
    s = make(
        "polynomial_decay",
        lr=[1.0],
        warmup_updates=10,
        total_num_update=110,
        end_learning_rate=0.1,
        power=2.0,
    )
    got = curve(s, [0, 5, 10, 60, 100, 110, 200])
    poly = lambda n: 0.9 * (1 - (n - 10) / 100) ** 2 + 0.1  # noqa: E731
    assert got == pytest.approx([0.0, 0.5, 1.0, poly(60), poly(100), 0.1, 0.1])
    linear = make("polynomial_decay", lr=[2.0], max_update=100)  # total defaults to --max-update
    assert curve(linear, [0, 50, 100]) == pytest.approx([2.0, 1.0, 0.0])


def test_polynomial_decay_force_anneal_keeps_the_reached_lr() -> None:
    s = make("polynomial_decay", lr=[1.0], total_num_update=100, force_anneal=2)
    s.step_begin_epoch(1)
    assert s.step_update(50) == pytest.approx(0.5)
    s.step_begin_epoch(2)  # decay now starts from the lr reached, 0.5
    assert s.step_update(75) == pytest.approx(0.5 * 0.25)


def test_reduce_lr_on_plateau_shrinks_after_patience() -> None:
    s = make("reduce_lr_on_plateau", lr=[1.0], lr_patience=1, lr_shrink=0.5, lr_threshold=0.01)
    losses = [5.0, 4.0, 3.99, 3.98, 3.0, 3.5, 3.5, 2.0]
    # 3.99 and 3.98 are within 1% of 4.0: not better; the second bad epoch shrinks the lr
    expected = [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25]
    got = [s.step(epoch, loss) for epoch, loss in enumerate(losses, start=1)]
    assert got == pytest.approx(expected)
    assert s.step_update(1000) == 0.25  # no per-update change after warmup


def test_reduce_lr_on_plateau_matches_torch_after_warmup() -> None:
    losses = [3.0, 2.0, 2.5, 2.4, 2.3, 1.0, 1.5, 1.5, 1.5, 1.4]
    s = make("reduce_lr_on_plateau", lr=[0.5], warmup_updates=4, warmup_init_lr=0.1, lr_patience=2)
    assert curve(s, [0, 2, 4]) == pytest.approx([0.1, 0.3, 0.5])
    assert s.step(1, 0.1) == pytest.approx(0.5)  # still warming up: the loss is not counted
    s.step_update(5)  # warmup over
    ref_opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.5)
    ref = torch.optim.lr_scheduler.ReduceLROnPlateau(ref_opt, factor=0.1, patience=2, threshold=1e-4)
    for epoch, loss in enumerate(losses, start=2):
        ref.step(loss)
        assert s.step(epoch, loss) == pytest.approx(ref_opt.param_groups[0]["lr"])


def test_reduce_lr_on_plateau_maximizing_metric() -> None:
    s = make("reduce_lr_on_plateau", lr=[1.0], maximize_best_checkpoint_metric=True)
    assert [s.step(e, v) for e, v in enumerate([10.0, 20.0, 19.0], start=1)] == pytest.approx([1.0, 1.0, 0.1])


def test_tri_stage_from_phase_ratio() -> None:
    s = make(
        "tri_stage",
        lr=[1.0],
        phase_ratio="(0.1, 0.4, 0.5)",
        max_update=100,
        init_lr_scale=0.01,
        final_lr_scale=0.05,
    )
    assert s.optimizer.get_lr() == 0.01
    k = -math.log(0.05) / 50
    got = curve(s, [0, 5, 10, 30, 49, 50, 75, 100, 101, 500])
    expected = [0.01, 0.01 + 5 * 0.099, 1.0, 1.0, 1.0, 1.0, math.exp(-k * 25), 0.05, 0.05, 0.05]
    assert got == pytest.approx(expected)


def test_tri_stage_from_step_counts() -> None:
    s = make("tri_stage", lr=[2.0], warmup_steps=4, hold_steps=2, decay_steps=0)
    assert curve(s, [0, 2, 4, 5, 6, 7]) == pytest.approx([0.02, 1.01, 2.0, 2.0, 2.0, 0.02])


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        ("inverse_sqrt", {"lr": [0.1, 0.2]}, "--lr-scheduler fixed"),
        ("inverse_sqrt", {"warmup_updates": 0}, "--warmup-updates"),
        ("cosine", {"lr": [0.1], "min_lr": 0.5, "lr_period_updates": 10}, "below the floor"),
        ("cosine", {"lr": [0.1], "min_lr": -1.0, "lr_period_updates": 10}, "--min-lr"),
        ("cosine", {"lr": [0.1], "max_lr": 1.0, "min_lr": 0.01, "lr_period_updates": 10}, "not both"),
        ("polynomial_decay", {}, "--total-num-update or --max-update"),
        ("tri_stage", {"phase_ratio": [0.5, 0.4, 0.3], "max_update": 10}, "add up to 1"),
        ("tri_stage", {}, "--phase-ratio"),
        ("reduce_lr_on_plateau", {"lr": [0.1, 0.01]}, "single --lr"),
    ],
)
def test_bad_settings_are_config_errors(name: str, options: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        make(name, **options)


# --- resuming mid-schedule --------------------------------------------------------------------

# A training run as the Trainer drives a schedule: epochs of updates with a validation loss at each end.
LOSSES = [4.0, 3.0, 3.1, 3.05, 2.0, 2.2, 2.1, 2.3]


def events(updates_per_epoch: int = 5) -> list[tuple]:
    """The calls a run makes: ("begin", epoch), ("update", n), ("end", epoch, val_loss)."""
    out: list[tuple] = []
    n = 0
    for epoch, loss in enumerate(LOSSES, start=1):
        out.append(("begin", epoch))
        for _ in range(updates_per_epoch):
            n += 1
            out.append(("update", n))
        out.append(("end", epoch, loss))
    return out


def drive(schedule: LRScheduler, calls: list[tuple]) -> list[float]:
    """Make the calls; return the optimizer's lr after each."""
    lrs = []
    for call in calls:
        if call[0] == "begin":
            schedule.step_begin_epoch(call[1])
        elif call[0] == "update":
            schedule.step_update(call[1])
        else:
            schedule.step(call[1], call[2])
        lrs.append(schedule.optimizer.get_lr())
    return lrs


SCHEDULES = {
    "fixed": {"lr": [1.0, 0.8, 0.6], "warmup_updates": 8, "force_anneal": 5, "lr_shrink": 0.5},
    "inverse_sqrt": {"lr": [1.0], "warmup_updates": 8, "warmup_init_lr": 0.1},
    "cosine": {"lr": [1.0], "min_lr": 0.01, "warmup_updates": 4, "lr_period_updates": 10, "t_mult": 1.5},
    "polynomial_decay": {
        "lr": [1.0],
        "warmup_updates": 6,
        "total_num_update": 35,
        "power": 2.0,
        "force_anneal": 4,
    },
    "reduce_lr_on_plateau": {"lr": [1.0], "warmup_updates": 3, "lr_patience": 1, "lr_shrink": 0.5},
    "tri_stage": {"lr": [1.0], "phase_ratio": [0.2, 0.3, 0.5], "max_update": 30},
}

# Cut points: mid-warmup, mid-epoch, right after an epoch ends, and late in the run.
CUTS = [3, 10, 21, 29, 40]


@pytest.mark.parametrize("cut", CUTS)
@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_resume_continues_the_same_curve(name: str, cut: int) -> None:
    calls = events()
    full = drive(make(name, **SCHEDULES[name]), calls)

    first = make(name, **SCHEDULES[name])
    drive(first, calls[:cut])
    state = roundtrip(first.state_dict())
    resumed = make(name, **SCHEDULES[name])  # a new process: new optimizer, new schedule
    resumed.load_state_dict(state)
    assert resumed.optimizer.get_lr() == pytest.approx(full[cut - 1])
    assert drive(resumed, calls[cut:]) == pytest.approx(full[cut:])


@pytest.mark.parametrize("name", ["fixed", "polynomial_decay", "reduce_lr_on_plateau"])
def test_epoch_state_matters_for_resuming(name: str) -> None:
    # These schedules keep state beyond the update count: without loading it the curve differs,
    # so the resume test above would catch a state dict that forgot it.
    calls = events()
    full = drive(make(name, **SCHEDULES[name]), calls)
    cut = 29
    fresh = make(name, **SCHEDULES[name])
    assert drive(fresh, calls[cut:]) != pytest.approx(full[cut:])
