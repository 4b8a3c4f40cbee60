"""``check_lr_scheduler``: a schedule sets the lr it reports and resumes on the same curve."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ..builders import build_lr_scheduler
from ..lr_scheduler import LRScheduler
from ..options import LR_SCHEDULER
from .failures import Check
from .regression import PlainSGD, Regression
from .round_trip import round_trip
from .tool_options import has_flag, resolve_options

#: validation losses at the end of each epoch: an improvement, then a plateau
VALID_LOSSES = (4.0, 3.0, 3.0, 3.0, 3.0)


def check_lr_scheduler(
    name: str, argv: Sequence[str] = (), updates_per_epoch: int = 1500, lr: float = 0.5
) -> LRScheduler:
    """Check lr schedule ``name`` (options from its defaults and ``argv``) over five epochs.

    It is driven as the Trainer drives it: ``step_update(0)`` once built, then per epoch
    ``step_begin_epoch``, ``step_update`` after every update and ``step(epoch, val_loss)``.
    Every lr it returns must be finite, non-negative and set on the optimizer. Saved in the
    middle of epoch 4 and loaded into a fresh schedule and optimizer (through
    ``torch.load(weights_only=True)``, then ``step_update`` at the saved update, as a resumed
    Trainer does), it must continue the same curve. ``--max-update`` is the run's length
    unless ``argv`` sets it. Returns the schedule.
    """
    check = Check("check_lr_scheduler", name)
    total = updates_per_epoch * len(VALID_LOSSES)
    extra = [] if has_flag(argv, "--lr") else ["--lr", str(lr)]
    extra += [] if has_flag(argv, "--max-update") else ["--max-update", str(total)]
    args = resolve_options(check, [LR_SCHEDULER], ["--lr-scheduler", name, *extra, *argv])
    schedule = _build(check, args)
    saved: dict[str, Any] = {}
    save_at = 3 * updates_per_epoch + updates_per_epoch // 2
    curve = _run(check, schedule, updates_per_epoch, save_at=save_at, saved=saved)

    resumed = _build(check, args)
    with check.step("loading the optimizer's state dict"):
        resumed.optimizer.load_state_dict(saved["optimizer"])
    with check.step("loading the schedule's state dict"):
        resumed.load_state_dict(saved["schedule"])
    with check.step(f"step_update({save_at}) after loading"):
        resumed.step_update(save_at)
    check.expect(
        math.isclose(resumed.optimizer.get_lr(), saved["lr"], rel_tol=1e-9),
        f"resumed at update {save_at}, the lr is {resumed.optimizer.get_lr()}, not {saved['lr']}: "
        "state_dict() misses some of the schedule's state, or load_state_dict does not restore it",
    )
    rest = _run(check, resumed, updates_per_epoch, start=save_at)
    for (where, want), (_, got) in zip(curve[-len(rest) :], rest):
        check.expect(
            math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-15),
            f"resumed from a state dict saved at update {save_at}, the lr at {where} is {got}, not {want}: "
            "state_dict() misses some of the schedule's state",
        )
    return schedule


def _build(check: Check, args: Any) -> LRScheduler:
    optimizer = PlainSGD(args, Regression().params())
    with check.step("building the schedule"):
        schedule = build_lr_scheduler(args, optimizer)
    check.expect(
        isinstance(schedule, LRScheduler),
        f"build_lr_scheduler returned a {type(schedule).__name__}, not a seqlab.core.LRScheduler",
    )
    with check.step("step_update(0) once built"):
        schedule.step_update(0)
    return schedule


def _run(
    check: Check,
    schedule: LRScheduler,
    updates_per_epoch: int,
    start: int = 0,
    save_at: int | None = None,
    saved: dict[str, Any] | None = None,
) -> list[tuple[str, float]]:
    """Drive the schedule from update ``start`` to the end; return ``(where, lr)`` after each call."""
    curve: list[tuple[str, float]] = []

    def record(where: str, returned: Any) -> None:
        with check.step(f"reading the lr {returned!r} that {where} returned as a number"):
            lr = float(returned)
        check.expect(
            math.isfinite(lr) and lr >= 0,
            f"{where} returned the lr {lr}; expected a finite non-negative number",
        )
        actual = schedule.optimizer.get_lr()
        check.expect(
            math.isclose(actual, lr, rel_tol=1e-12),
            f"{where} returned the lr {lr} but left {actual} on the optimizer",
        )
        curve.append((where, lr))

    first_epoch = start // updates_per_epoch + 1
    for epoch in range(first_epoch, len(VALID_LOSSES) + 1):
        begin = (epoch - 1) * updates_per_epoch
        if begin >= start:
            with check.step(f"step_begin_epoch({epoch})"):
                record(f"step_begin_epoch({epoch})", schedule.step_begin_epoch(epoch))
        for n in range(max(begin, start) + 1, epoch * updates_per_epoch + 1):
            with check.step(f"step_update({n})"):
                record(f"step_update({n})", schedule.step_update(n))
            if n == save_at and saved is not None:
                saved["schedule"] = round_trip(check, schedule.state_dict(), "the schedule's state dict")
                saved["optimizer"] = round_trip(
                    check, schedule.optimizer.state_dict(), "the optimizer's state dict"
                )
                saved["lr"] = schedule.optimizer.get_lr()
        val = VALID_LOSSES[epoch - 1]
        with check.step(f"step({epoch}, val_loss={val})"):
            record(f"step({epoch}, val_loss={val})", schedule.step(epoch, val))
    return curve
