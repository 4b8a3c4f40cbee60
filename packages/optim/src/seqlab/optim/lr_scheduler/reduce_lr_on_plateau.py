"""``reduce_lr_on_plateau``: shrink the lr when the validation loss stops improving."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from seqlab.core import ConfigError, register_lr_scheduler

from ..option_values import read_options, single_learning_rate
from .stateful import StatefulSchedule

# torch's ReduceLROnPlateau skips reductions smaller than this; fairseq inherits that.
_MIN_CHANGE = 1e-8


@dataclass
class ReduceLROnPlateauScheduleConfig:
    """Options of the ``reduce_lr_on_plateau`` schedule."""

    lr_shrink: float = field(default=0.1, metadata={"help": "on a plateau: lr_new = lr * lr_shrink"})
    lr_threshold: float = field(
        default=1e-4,
        metadata={"help": "a loss improves on the best only if lower by this fraction of it"},
    )
    lr_patience: int = field(
        default=0, metadata={"help": "shrink after this many epochs without improvement, plus one"}
    )
    warmup_updates: int = field(
        default=0, metadata={"help": "warm the lr up linearly over the first N updates"}
    )
    warmup_init_lr: float = field(
        default=-1, metadata={"help": "lr at the start of warmup (default: 0 with warmup, else --lr)"}
    )


@register_lr_scheduler("reduce_lr_on_plateau", dataclass=ReduceLROnPlateauScheduleConfig)
class ReduceLROnPlateauSchedule(StatefulSchedule):
    """After warmup, ``step(epoch, val_loss)`` counts epochs whose loss is not better than
    ``best * (1 - lr_threshold)`` (``best * (1 + lr_threshold)`` when maximizing the
    checkpoint metric); after more than ``lr_patience`` of them the lr is multiplied by
    ``lr_shrink`` and the count restarts, as torch's ``ReduceLROnPlateau`` does for fairseq.
    """

    state_keys = ("best", "num_bad_epochs", "last_epoch", "warmup_end", "lr")

    def __init__(self, args: Any, optimizer: Any) -> None:
        super().__init__(args, optimizer)
        o = self.options = read_options(args, ReduceLROnPlateauScheduleConfig)
        if o.lr_patience < 0:
            raise ConfigError(f"--lr-patience must be >= 0, got {o.lr_patience}")
        if o.warmup_updates < 0:
            raise ConfigError(f"--warmup-updates must be >= 0, got {o.warmup_updates}")
        # a checkpoint option: whether a larger validation metric is better
        self.maximize = bool(getattr(args, "maximize_best_checkpoint_metric", False))
        peak = single_learning_rate(args, "reduce_lr_on_plateau")
        if o.warmup_init_lr < 0:
            self.warmup_init_lr = 0.0 if o.warmup_updates > 0 else peak
        else:
            self.warmup_init_lr = o.warmup_init_lr
        self.lr_step = (peak - self.warmup_init_lr) / o.warmup_updates if o.warmup_updates > 0 else 0.0
        self.warmup_end = o.warmup_updates <= 0
        self.best = -math.inf if self.maximize else math.inf
        self.num_bad_epochs = 0
        self.last_epoch = 0
        self.lr = peak if self.warmup_end else self.warmup_init_lr
        self.optimizer.set_lr(self.lr)

    def _is_better(self, loss: float) -> bool:
        if self.maximize:
            return loss > self.best * (1.0 + self.options.lr_threshold)
        return loss < self.best * (1.0 - self.options.lr_threshold)

    def step(self, epoch: int, val_loss: float | None = None) -> float:
        """At the end of an epoch, shrink the lr if the validation loss has plateaued; return the lr."""
        self.last_epoch = epoch
        if val_loss is None or not self.warmup_end:
            return self.optimizer.get_lr()
        loss = float(val_loss)
        if self._is_better(loss):
            self.best = loss
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.num_bad_epochs > self.options.lr_patience:
            current = self.optimizer.get_lr()
            shrunk = max(current * self.options.lr_shrink, 0.0)
            if current - shrunk > _MIN_CHANGE:
                self.lr = shrunk
                self.optimizer.set_lr(shrunk)
            self.num_bad_epochs = 0
        return self.optimizer.get_lr()

    def step_update(self, num_updates: int) -> float:
        """During warmup, set the lr for the next update; return the lr."""
        warmup = self.options.warmup_updates
        if warmup > 0:
            if num_updates <= warmup:
                self.lr = self.warmup_init_lr + num_updates * self.lr_step
                self.optimizer.set_lr(self.lr)
            else:
                self.warmup_end = True
        return self.optimizer.get_lr()
