"""``adagrad``: Adagrad (``torch.optim.Adagrad``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from seqlab.core import Optimizer, register_optimizer

from .fast_path import fast_path_kwargs
from .option_values import learning_rates, read_options

# torch's fused Adagrad kernel exists for CPU only; on CUDA the foreach path is used.
_ADAGRAD_FUSED_DEVICES = frozenset({"cpu"})


@dataclass
class AdagradConfig:
    """Options of the ``adagrad`` optimizer."""

    weight_decay: float = field(
        default=0.0, metadata={"help": "L2 penalty added to the gradient", "aliases": ("--wd",)}
    )


@register_optimizer("adagrad", dataclass=AdagradConfig)
class AdagradOptimizer(Optimizer):
    """Adagrad, fused on CPU and foreach on CUDA."""

    def __init__(self, args: Any, params: Any) -> None:
        super().__init__(args, params)
        self.options = read_options(args, AdagradConfig)
        params = list(params)
        impl = fast_path_kwargs(params, fused_devices=_ADAGRAD_FUSED_DEVICES)
        self._optimizer = torch.optim.Adagrad(params, **self.optimizer_config, **impl)

    @property
    def optimizer_config(self) -> dict[str, Any]:
        """The keyword arguments of ``torch.optim.Adagrad`` (overridable on resume)."""
        return {"lr": learning_rates(self.args)[0], "weight_decay": self.options.weight_decay}
