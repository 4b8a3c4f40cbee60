"""The base of our schedules: their state dict holds every value their formula keeps between calls."""

from __future__ import annotations

from typing import Any, ClassVar

from seqlab.core import LRScheduler


class StatefulSchedule(LRScheduler):
    """A schedule whose ``state_dict`` saves the attributes in ``state_keys`` and the current lr.

    Loading restores them and puts the saved lr back on the optimizer, so a resumed run
    continues the same curve even before the next ``step_update``.
    """

    state_keys: ClassVar[tuple[str, ...]] = ()

    def state_dict(self) -> dict[str, Any]:
        """The schedule's state: best validation loss, the optimizer's lr and the formula's own values."""
        state = super().state_dict()
        state["optimizer_lr"] = self.optimizer.get_lr()
        for key in self.state_keys:
            state[key] = getattr(self, key)
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the state saved by :meth:`state_dict` (keys it lacks keep their values)."""
        self.best = state_dict.get("best", self.best)
        for key in self.state_keys:
            if key in state_dict:
                setattr(self, key, state_dict[key])
        if state_dict.get("optimizer_lr") is not None:
            self.optimizer.set_lr(state_dict["optimizer_lr"])
