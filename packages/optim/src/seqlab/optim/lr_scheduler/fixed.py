"""``fixed``: one lr per epoch from ``--lr``, annealed by ``--lr-shrink`` from ``--force-anneal`` on."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from seqlab.core import ConfigError, register_lr_scheduler

from ..option_values import learning_rates, read_options
from .stateful import StatefulSchedule


@dataclass
class FixedScheduleConfig:
    """Options of the ``fixed`` schedule."""

    force_anneal: int | None = field(
        default=None, metadata={"help": "from this epoch on, shrink the lr by --lr-shrink every epoch"}
    )
    lr_shrink: float = field(default=0.1, metadata={"help": "annealing factor: lr_new = lr * lr_shrink"})
    warmup_updates: int = field(
        default=0, metadata={"help": "warm the lr up linearly over the first N updates"}
    )


@register_lr_scheduler("fixed", dataclass=FixedScheduleConfig)
class FixedSchedule(StatefulSchedule):
    """Epoch ``e`` (1-based) uses ``lr[e - 1]`` (the last value once the list runs out).

    From epoch ``force_anneal`` on it uses ``lr[-1] * lr_shrink ** (e + 1 - force_anneal)``.
    During the first ``warmup_updates`` updates the lr is scaled by ``(num_updates + 1) / warmup_updates``.
    """

    state_keys = ("lr", "warmup_factor")

    def __init__(self, args: Any, optimizer: Any) -> None:
        super().__init__(args, optimizer)
        self.options = read_options(args, FixedScheduleConfig)
        if self.options.warmup_updates < 0:
            raise ConfigError(f"--warmup-updates must be >= 0, got {self.options.warmup_updates}")
        self.lrs = learning_rates(args)
        self.lr = self.lrs[0]
        self.warmup_factor = 1.0 / self.options.warmup_updates if self.options.warmup_updates > 0 else 1.0

    def get_next_lr(self, epoch: int) -> float:
        """The lr of epoch ``epoch`` (1-based), before warmup."""
        force_anneal = self.options.force_anneal
        if force_anneal is None or epoch < force_anneal:
            return self.lrs[max(0, min(epoch - 1, len(self.lrs) - 1))]
        return self.lrs[-1] * self.options.lr_shrink ** (epoch + 1 - force_anneal)

    def step_begin_epoch(self, epoch: int) -> float:
        """Switch to the lr of the epoch that begins; return it."""
        self.lr = self.get_next_lr(epoch)
        self.optimizer.set_lr(self.warmup_factor * self.lr)
        return self.optimizer.get_lr()

    def step_update(self, num_updates: int) -> float:
        """Set the lr after an update (warmup, then the epoch's lr); return it."""
        warmup = self.options.warmup_updates
        if warmup > 0 and num_updates < warmup:
            self.warmup_factor = (num_updates + 1) / float(warmup)
            self.optimizer.set_lr(self.warmup_factor * self.lr)
        else:
            self.warmup_factor = 1.0
            self.optimizer.set_lr(self.lr)
        return self.optimizer.get_lr()
