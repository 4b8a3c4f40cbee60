"""``tri_stage``: linear warmup, hold, exponential decay, then a constant final lr."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from seqlab.core import ConfigError, register_lr_scheduler

from ..option_values import float_tuple, read_options, single_learning_rate
from .stateful import StatefulSchedule


@dataclass
class TriStageScheduleConfig:
    """Options of the ``tri_stage`` schedule."""

    warmup_steps: int = field(default=0, metadata={"help": "updates of the linear warmup stage"})
    hold_steps: int = field(default=0, metadata={"help": "updates held at the peak lr"})
    decay_steps: int = field(default=0, metadata={"help": "updates of the exponential decay stage"})
    phase_ratio: list[float] | None = field(
        default=None,
        metadata={
            "help": "split --max-update into warmup, hold and decay by these fractions, e.g. "
            "'(0.1, 0.4, 0.5)' (overrides the three step counts)"
        },
    )
    init_lr_scale: float = field(default=0.01, metadata={"help": "warmup starts at this fraction of --lr"})
    final_lr_scale: float = field(default=0.01, metadata={"help": "decay ends at this fraction of --lr"})


@register_lr_scheduler("tri_stage", dataclass=TriStageScheduleConfig)
class TriStageSchedule(StatefulSchedule):
    """Three stages after which the lr stays at ``final_lr_scale * lr``:

    * warmup: from ``init_lr_scale * lr`` linearly up to ``lr`` over ``warmup_steps``;
    * hold: ``lr`` for ``hold_steps``;
    * decay: ``lr * exp(-k * s)`` for ``s = 0 .. decay_steps`` with ``k = -ln(final_lr_scale) / decay_steps``.
    """

    def __init__(self, args: Any, optimizer: Any) -> None:
        super().__init__(args, optimizer)
        o = self.options = read_options(args, TriStageScheduleConfig)
        self.peak_lr = single_learning_rate(args, "tri_stage")
        self.init_lr = o.init_lr_scale * self.peak_lr
        self.final_lr = o.final_lr_scale * self.peak_lr
        if o.phase_ratio is not None:
            ratios = float_tuple(o.phase_ratio, "--phase-ratio", 3)
            if not math.isclose(sum(ratios), 1.0, abs_tol=1e-6):
                raise ConfigError(
                    f"--phase-ratio {ratios} must be three fractions (warmup, hold, decay) that add up to 1"
                )
            max_update = getattr(args, "max_update", 0) or 0
            if max_update <= 0:
                raise ConfigError("--phase-ratio splits --max-update, so --max-update must be set")
            self.warmup_steps = int(max_update * ratios[0])
            self.hold_steps = int(max_update * ratios[1])
            self.decay_steps = int(max_update * ratios[2])
        else:
            self.warmup_steps, self.hold_steps, self.decay_steps = o.warmup_steps, o.hold_steps, o.decay_steps
        steps = (self.warmup_steps, self.hold_steps, self.decay_steps)
        if min(steps) < 0 or sum(steps) <= 0:
            raise ConfigError(
                "--lr-scheduler tri_stage needs its stage lengths: set --phase-ratio (with --max-update) "
                "or --warmup-steps/--hold-steps/--decay-steps (none negative, not all zero)"
            )
        if self.decay_steps > 0 and o.final_lr_scale <= 0:
            raise ConfigError(
                f"--final-lr-scale must be > 0 for an exponential decay, got {o.final_lr_scale}"
            )
        self.warmup_rate = (self.peak_lr - self.init_lr) / self.warmup_steps if self.warmup_steps else 0.0
        self.decay_factor = -math.log(o.final_lr_scale) / self.decay_steps if self.decay_steps else 0.0
        self.lr = self.init_lr
        self.optimizer.set_lr(self.lr)

    def _decide_stage(self, update_step: int) -> tuple[int, int]:
        """Return the stage (0 warmup, 1 hold, 2 decay, 3 final) and the updates into it."""
        if update_step < self.warmup_steps:
            return 0, update_step
        offset = self.warmup_steps
        if update_step < offset + self.hold_steps:
            return 1, update_step - offset
        offset += self.hold_steps
        if update_step <= offset + self.decay_steps:
            return 2, update_step - offset
        return 3, update_step - offset - self.decay_steps

    def step_update(self, num_updates: int) -> float:
        """Set the lr for the next update; return it."""
        stage, steps_in_stage = self._decide_stage(num_updates)
        if stage == 0:
            self.lr = self.init_lr + self.warmup_rate * steps_in_stage
        elif stage == 1:
            self.lr = self.peak_lr
        elif stage == 2:
            self.lr = self.peak_lr * math.exp(-self.decay_factor * steps_in_stage)
        else:
            self.lr = self.final_lr
        self.optimizer.set_lr(self.lr)
        return self.lr
