"""A least-squares problem and a plain SGD optimizer, for checking optimizers and lr schedulers."""

from __future__ import annotations

from typing import Any

import torch

from ..optimizer import Optimizer


class Regression:
    """Fit ``y = x @ w + b`` by mean squared error, from a fixed seeded start."""

    def __init__(self, seed: int = 0) -> None:
        g = torch.Generator().manual_seed(seed)
        self.x = torch.randn(32, 5, generator=g)
        self.y = self.x @ torch.randn(5, 3, generator=g) + torch.randn(3, generator=g)
        self.start = [torch.randn(5, 3, generator=g), torch.zeros(3)]

    def params(self) -> list[torch.nn.Parameter]:
        """Fresh parameters at the fixed start."""
        return [torch.nn.Parameter(t.clone()) for t in self.start]

    def loss(self, params: list[torch.nn.Parameter]) -> torch.Tensor:
        """The mean squared error of ``params``."""
        w, b = params
        return torch.nn.functional.mse_loss(self.x @ w + b, self.y)


class PlainSGD(Optimizer):
    """``torch.optim.SGD`` at ``args.lr[0]``: what an lr schedule drives in its checks."""

    def __init__(self, args: Any, params: Any) -> None:
        super().__init__(args, params)
        lr = args.lr[0] if isinstance(args.lr, (list, tuple)) else float(args.lr)
        self._optimizer = torch.optim.SGD(list(params), lr=lr)
