"""``polynomial_decay``: linear warmup, then polynomial decay to ``--end-learning-rate``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from seqlab.core import ConfigError, register_lr_scheduler

from ..option_values import learning_rates, read_options
from .stateful import StatefulSchedule


@dataclass
class PolynomialDecayScheduleConfig:
    """Options of the ``polynomial_decay`` schedule."""

    warmup_updates: int = field(
        default=0, metadata={"help": "warm the lr up linearly over the first N updates"}
    )
    force_anneal: int | None = field(
        default=None,
        metadata={"help": "from this epoch on, decay from the lr reached instead of the epoch's --lr"},
    )
    end_learning_rate: float = field(default=0.0, metadata={"help": "the lr reached at the last update"})
    power: float = field(default=1.0, metadata={"help": "decay exponent (1: linear)"})
    total_num_update: float | None = field(
        default=None, metadata={"help": "updates over which the lr decays (default: --max-update)"}
    )


@register_lr_scheduler("polynomial_decay", dataclass=PolynomialDecayScheduleConfig)
class PolynomialDecaySchedule(StatefulSchedule):
    """``lr * n / warmup_updates`` for ``n <= warmup_updates``, then::

        lr = (lr - end) * (1 - (n - warmup) / (total - warmup)) ** power + end

    and ``end`` from ``total_num_update`` on.
    """

    state_keys = ("lr", "warmup_factor")

    def __init__(self, args: Any, optimizer: Any) -> None:
        super().__init__(args, optimizer)
        o = self.options = read_options(args, PolynomialDecayScheduleConfig)
        total = o.total_num_update if o.total_num_update is not None else getattr(args, "max_update", 0)
        if not total or total <= 0:
            raise ConfigError(
                "--lr-scheduler polynomial_decay needs the decay length: "
                "set --total-num-update or --max-update"
            )
        if o.warmup_updates < 0:
            raise ConfigError(f"--warmup-updates must be >= 0, got {o.warmup_updates}")
        if o.warmup_updates >= total:
            raise ConfigError(
                f"--lr-scheduler polynomial_decay: --warmup-updates ({o.warmup_updates}) must be below "
                f"the decay length ({total})"
            )
        self.total_num_update = total
        self.lrs = learning_rates(args)
        self.lr = self.lrs[0]
        self.warmup_factor = 1.0 / o.warmup_updates if o.warmup_updates > 0 else 1.0
        self.optimizer.set_lr(self.warmup_factor * self.lr)

    def get_next_lr(self, epoch: int) -> float:
        """The peak lr for epoch ``epoch`` (1-based)."""
        if self.options.force_anneal is None or epoch < self.options.force_anneal:
            return self.lrs[max(0, min(epoch - 1, len(self.lrs) - 1))]
        return self.optimizer.get_lr()

    def step_begin_epoch(self, epoch: int) -> float:
        """Switch to the peak lr of the epoch that begins; return the lr."""
        self.lr = self.get_next_lr(epoch)
        self.optimizer.set_lr(self.warmup_factor * self.lr)
        return self.optimizer.get_lr()

    def step_update(self, num_updates: int) -> float:
        """Set the lr for the next update; return it."""
        warmup = self.options.warmup_updates
        if warmup > 0 and num_updates <= warmup:
            self.warmup_factor = num_updates / float(warmup)
            lr = self.warmup_factor * self.lr
        elif num_updates >= self.total_num_update:
            lr = self.options.end_learning_rate
        else:
            remaining = 1 - (num_updates - warmup) / (self.total_num_update - warmup)
            lr = (self.lr - self.options.end_learning_rate) * remaining**self.options.power
            lr += self.options.end_learning_rate
        self.optimizer.set_lr(lr)
        return self.optimizer.get_lr()
