"""Learning-rate scheduler base class (fairseq's ``FairseqLRScheduler`` contract)."""

from __future__ import annotations

from typing import Any

from .optimizer import Optimizer
from .plugin_base import PluginOptions


class LRScheduler(PluginOptions):
    """Sets the optimizer's lr per update (``step_update``) and per epoch (``step``)."""

    def __init__(self, args: Any, optimizer: Optimizer) -> None:
        if not isinstance(optimizer, Optimizer):
            raise ValueError("optimizer must be an instance of seqlab.core.Optimizer")
        self.args = args
        self.cfg = args
        self.optimizer = optimizer
        self.best: float | None = None

    def state_dict(self) -> dict[str, Any]:
        """The scheduler's state (enough to continue the same curve)."""
        return {"best": self.best}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the scheduler's state."""
        self.best = state_dict["best"]

    def step_begin_epoch(self, epoch: int) -> float:
        """Update the lr at the start of an epoch; return it."""
        return self.optimizer.get_lr()

    def step(self, epoch: int, val_loss: float | None = None) -> float:
        """Update the lr at the end of an epoch; return it."""
        if val_loss is not None:
            self.best = val_loss if self.best is None else min(self.best, val_loss)
        return self.optimizer.get_lr()

    def step_update(self, num_updates: int) -> float:
        """Update the lr after an optimizer update; return it."""
        return self.optimizer.get_lr()
