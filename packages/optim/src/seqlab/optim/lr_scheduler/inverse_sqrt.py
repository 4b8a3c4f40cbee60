"""``inverse_sqrt``: linear warmup, then decay proportional to the inverse square root of the update."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from seqlab.core import ConfigError, register_lr_scheduler

from ..option_values import read_options, single_learning_rate
from .stateful import StatefulSchedule


@dataclass
class InverseSqrtScheduleConfig:
    """Options of the ``inverse_sqrt`` schedule."""

    warmup_updates: int = field(
        default=4000, metadata={"help": "warm the lr up linearly over the first N updates"}
    )
    warmup_init_lr: float = field(
        default=-1,
        metadata={"help": "lr at the start of warmup (default: 0 with warmup, else --lr)"},
    )


@register_lr_scheduler("inverse_sqrt", dataclass=InverseSqrtScheduleConfig)
class InverseSqrtSchedule(StatefulSchedule):
    """``lr = warmup_init_lr + n * (lr - warmup_init_lr) / warmup_updates`` while ``n < warmup_updates``.

    Afterwards ``lr = lr * sqrt(warmup_updates) / sqrt(n)``: the peak at the end of
    warmup, then decaying as ``1 / sqrt(n)``.
    """

    def __init__(self, args: Any, optimizer: Any) -> None:
        super().__init__(args, optimizer)
        self.options = read_options(args, InverseSqrtScheduleConfig)
        warmup = self.options.warmup_updates
        if warmup <= 0:
            raise ConfigError(
                f"--lr-scheduler inverse_sqrt needs --warmup-updates > 0 (got {warmup}): "
                "its decay is scaled by the warmup length"
            )
        peak = single_learning_rate(args, "inverse_sqrt")
        init = self.options.warmup_init_lr
        self.warmup_init_lr = 0.0 if init < 0 else init
        self.lr_step = (peak - self.warmup_init_lr) / warmup
        self.decay_factor = peak * warmup**0.5
        self.lr = self.warmup_init_lr
        self.optimizer.set_lr(self.lr)

    def step_update(self, num_updates: int) -> float:
        """Set the lr for the next update; return it."""
        if num_updates < self.options.warmup_updates:
            self.lr = self.warmup_init_lr + num_updates * self.lr_step
        else:
            self.lr = self.decay_factor * num_updates**-0.5
        self.optimizer.set_lr(self.lr)
        return self.lr
