"""``adamw``: ``torch.optim.AdamW`` with torch's defaults (weight decay 0.01)."""

from __future__ import annotations

from dataclasses import dataclass, field

from seqlab.core import register_optimizer

from .adam import AdamOptimizer


@dataclass
class AdamWConfig:
    """Options of the ``adamw`` optimizer."""

    adam_betas: str = field(
        default="(0.9, 0.999)", metadata={"help": "AdamW's betas, written as a tuple: '(0.9, 0.98)'"}
    )
    adam_eps: float = field(default=1e-8, metadata={"help": "AdamW's epsilon, added to the denominator"})
    weight_decay: float = field(
        default=0.01,
        metadata={
            "help": "decoupled weight decay: each step scales parameters by 1 - lr * wd",
            "aliases": ("--wd",),
        },
    )


@register_optimizer("adamw", dataclass=AdamWConfig)
class AdamWOptimizer(AdamOptimizer):
    """AdamW as torch defines it; the same update as ``adam`` with torch's default weight decay."""

    config_class = AdamWConfig
