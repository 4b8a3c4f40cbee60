"""``sgd``: stochastic gradient descent with optional momentum (``torch.optim.SGD``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from seqlab.core import Optimizer, register_optimizer

from .fast_path import fast_path_kwargs
from .option_values import learning_rates, read_options


@dataclass
class SGDConfig:
    """Options of the ``sgd`` optimizer."""

    momentum: float = field(default=0.0, metadata={"help": "momentum factor"})
    weight_decay: float = field(
        default=0.0, metadata={"help": "L2 penalty added to the gradient", "aliases": ("--wd",)}
    )


@register_optimizer("sgd", dataclass=SGDConfig)
class SGDOptimizer(Optimizer):
    """Plain SGD, fused or foreach where the device supports it."""

    def __init__(self, args: Any, params: Any) -> None:
        super().__init__(args, params)
        self.options = read_options(args, SGDConfig)
        params = list(params)
        self._optimizer = torch.optim.SGD(params, **self.optimizer_config, **fast_path_kwargs(params))

    @property
    def optimizer_config(self) -> dict[str, Any]:
        """The keyword arguments of ``torch.optim.SGD`` (overridable on resume)."""
        return {
            "lr": learning_rates(self.args)[0],
            "momentum": self.options.momentum,
            "weight_decay": self.options.weight_decay,
        }

    @property
    def supports_flat_params(self) -> bool:
        """SGD's update is elementwise, so one flattened parameter works."""
        return True
