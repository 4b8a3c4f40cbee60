"""``cosine``: warmup, then cosine annealing with warm restarts (SGDR, arXiv 1608.03983)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from seqlab.core import ConfigError, register_lr_scheduler

from ..option_values import read_options, single_learning_rate
from .stateful import StatefulSchedule


@dataclass
class CosineScheduleConfig:
    """Options of the ``cosine`` schedule."""

    warmup_updates: int = field(
        default=0, metadata={"help": "warm the lr up linearly over the first N updates"}
    )
    warmup_init_lr: float = field(
        default=-1, metadata={"help": "lr at the start of warmup (default: the floor of the curve)"}
    )
    max_lr: float | None = field(
        default=None,
        metadata={
            "help": "peak lr, as older fairseq spelled it: with --max-lr, --lr is the floor "
            "(default: the peak is --lr and the floor --min-lr)"
        },
    )
    min_lr: float = field(default=0.0, metadata={"help": "the floor the lr anneals to"})
    t_mult: float = field(default=1.0, metadata={"help": "each period is t_mult times longer than the last"})
    lr_period_updates: float = field(
        default=-1,
        metadata={"help": "updates in the first period (default: --max-update - --warmup-updates)"},
    )
    lr_shrink: float = field(
        default=0.1, metadata={"help": "peak and floor shrink by this factor at every restart"}
    )


@register_lr_scheduler("cosine", dataclass=CosineScheduleConfig)
class CosineSchedule(StatefulSchedule):
    """Linear warmup from ``warmup_init_lr`` to the peak, then within period ``i``::

        lr = floor_i + 0.5 * (peak_i - floor_i) * (1 + cos(pi * t_curr / t_i))

    with ``peak_i = peak * lr_shrink**i``, ``floor_i = floor * lr_shrink**i``, period
    length ``t_i = lr_period_updates * t_mult**i`` and ``t_curr`` the updates into it.
    """

    def __init__(self, args: Any, optimizer: Any) -> None:
        super().__init__(args, optimizer)
        o = self.options = read_options(args, CosineScheduleConfig)
        lr = single_learning_rate(args, "cosine")
        if o.min_lr < 0:
            raise ConfigError(
                f"--lr-scheduler cosine: --min-lr is the floor of the curve and must be >= 0, got {o.min_lr}"
            )
        if o.max_lr is not None:
            if o.min_lr != 0.0:
                raise ConfigError(
                    "--lr-scheduler cosine: with --max-lr, --lr is the floor; give the floor either "
                    "as --lr (with --max-lr) or as --min-lr (with --lr as the peak), not both"
                )
            self.max_lr, self.min_lr = o.max_lr, lr
        else:
            self.max_lr, self.min_lr = lr, o.min_lr
        if self.max_lr < self.min_lr:
            raise ConfigError(
                f"--lr-scheduler cosine: the peak lr ({self.max_lr}) is below the floor ({self.min_lr})"
            )
        if o.warmup_updates < 0:
            raise ConfigError(f"--warmup-updates must be >= 0, got {o.warmup_updates}")
        self.warmup_init_lr = self.min_lr if o.warmup_init_lr < 0 else o.warmup_init_lr
        self.t_mult = o.t_mult
        self.period = o.lr_period_updates
        if self.period <= 0:
            max_update = getattr(args, "max_update", 0) or 0
            if max_update <= 0:
                raise ConfigError(
                    "--lr-scheduler cosine needs the period length: set --lr-period-updates or --max-update"
                )
            self.period = max_update - o.warmup_updates
            if self.period <= 0:
                raise ConfigError(
                    f"--lr-scheduler cosine: --max-update ({max_update}) must exceed "
                    f"--warmup-updates ({o.warmup_updates}), or set --lr-period-updates"
                )
        self.warmup_updates = o.warmup_updates
        self.lr_step = (self.max_lr - self.warmup_init_lr) / o.warmup_updates if o.warmup_updates > 0 else 1.0
        self.lr = self.warmup_init_lr
        self.optimizer.set_lr(self.lr)

    def step_update(self, num_updates: int) -> float:
        """Set the lr for the next update; return it."""
        if num_updates < self.warmup_updates:
            self.lr = self.warmup_init_lr + num_updates * self.lr_step
        else:
            done = num_updates - self.warmup_updates
            if self.t_mult != 1:
                i = math.floor(math.log(1 - done / self.period * (1 - self.t_mult), self.t_mult))
                t_i = self.t_mult**i * self.period
                t_curr = done - (1 - self.t_mult**i) / (1 - self.t_mult) * self.period
            else:
                i = math.floor(done / self.period)
                t_i = self.period
                t_curr = done - self.period * i
            shrink = self.options.lr_shrink**i
            floor, peak = self.min_lr * shrink, self.max_lr * shrink
            self.lr = floor + 0.5 * (peak - floor) * (1 + math.cos(math.pi * t_curr / t_i))
        self.optimizer.set_lr(self.lr)
        return self.lr
