"""``adam``: fairseq's Adam, whose weight decay is decoupled as in AdamW (``torch.optim.AdamW``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from seqlab.core import Optimizer, register_optimizer

from .fast_path import fast_path_kwargs
from .option_values import float_tuple, learning_rates, read_options


@dataclass
class AdamConfig:
    """Options of the ``adam`` optimizer."""

    adam_betas: str = field(
        default="(0.9, 0.999)", metadata={"help": "Adam's betas, written as a tuple: '(0.9, 0.98)'"}
    )
    adam_eps: float = field(default=1e-8, metadata={"help": "Adam's epsilon, added to the denominator"})
    weight_decay: float = field(
        default=0.0,
        metadata={
            "help": "decoupled weight decay: each step scales parameters by 1 - lr * wd",
            "aliases": ("--wd",),
        },
    )


@register_optimizer("adam", dataclass=AdamConfig)
class AdamOptimizer(Optimizer):
    """Adam with decoupled weight decay, fused or foreach where the device supports it.

    Like fairseq's ``adam``, weight decay shrinks the parameters directly rather than
    adding an L2 term to the gradient, which makes this AdamW. torch adds epsilon after
    the second moment's bias correction, fairseq's own kernel before it, so early steps
    differ by epsilon's scale (a factor sqrt(1 - beta2**step)); the two then agree.
    """

    config_class: type = AdamConfig

    def __init__(self, args: Any, params: Any) -> None:
        super().__init__(args, params)
        self.options = read_options(args, self.config_class)
        params = list(params)
        self._optimizer = torch.optim.AdamW(params, **self.optimizer_config, **fast_path_kwargs(params))

    @property
    def optimizer_config(self) -> dict[str, Any]:
        """The keyword arguments of ``torch.optim.AdamW`` (overridable on resume)."""
        return {
            "lr": learning_rates(self.args)[0],
            "betas": float_tuple(self.options.adam_betas, "--adam-betas", 2),
            "eps": self.options.adam_eps,
            "weight_decay": self.options.weight_decay,
        }

    @property
    def supports_flat_params(self) -> bool:
        """Adam's update is elementwise, so one flattened parameter works."""
        return True
