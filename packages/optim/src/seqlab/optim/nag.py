"""``nag``: fairseq's Nesterov accelerated gradient, with its lr-corrected momentum and decoupled decay."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from seqlab.core import Optimizer, register_optimizer

from .option_values import learning_rates, read_options

_LOW_PRECISION = (torch.float16, torch.bfloat16)


class NAG(torch.optim.Optimizer):
    """Nesterov momentum whose buffer holds ``-lr * velocity``, rescaled when the lr changes.

    Per step, with ``c = lr / lr_old`` (the lr of the previous step)::

        p <- p * (1 - lr * weight_decay)
        p <- p + momentum**2 * c * buf - (1 + momentum) * lr * grad
        buf <- momentum * c * buf - lr * grad

    With a constant lr and no weight decay this equals ``torch.optim.SGD(nesterov=True)``;
    unlike it, a changing lr rescales the momentum, and weight decay is decoupled.
    fp16/bf16 parameters are updated in fp32 and written back (fairseq's memory-efficient fp16).
    """

    def __init__(self, params: Any, lr: float, momentum: float = 0.0, weight_decay: float = 0.0) -> None:
        defaults = {"lr": lr, "lr_old": lr, "momentum": momentum, "weight_decay": weight_decay}
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Apply one update."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr = group["lr"]
            lr_old = group.get("lr_old", lr)
            # a zero previous lr left the buffer at zero, so any correction factor is right
            correction = lr / lr_old if lr_old != 0 else 1.0
            buckets: dict[tuple[torch.device, torch.dtype], list[torch.Tensor]] = {}
            for p in group["params"]:
                if p.grad is not None:
                    buckets.setdefault((p.device, p.dtype), []).append(p)
            for params in buckets.values():
                self._update(params, lr, correction, group["momentum"], group["weight_decay"])
            group["lr_old"] = lr
        return loss

    def _update(
        self, params: list[torch.Tensor], lr: float, correction: float, momentum: float, weight_decay: float
    ) -> None:
        low_precision = params[0].dtype in _LOW_PRECISION
        weights = [p.float() for p in params] if low_precision else params
        grads = [p.grad.float() for p in params]
        bufs = []
        for p, g in zip(params, grads):
            state = self.state[p]
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = torch.zeros_like(g)
            elif buf.dtype != g.dtype or buf.device != g.device:
                buf = buf.to(g)  # loading a state dict casts the buffer to the parameter's dtype
            state["momentum_buffer"] = buf
            bufs.append(buf)
        if weight_decay != 0:
            torch._foreach_mul_(weights, 1 - lr * weight_decay)
        torch._foreach_add_(weights, bufs, alpha=momentum * momentum * correction)
        torch._foreach_add_(weights, grads, alpha=-(1 + momentum) * lr)
        torch._foreach_mul_(bufs, momentum * correction)
        torch._foreach_add_(bufs, grads, alpha=-lr)
        if low_precision:
            torch._foreach_copy_(params, weights)


@dataclass
class NAGConfig:
    """Options of the ``nag`` optimizer."""

    momentum: float = field(default=0.99, metadata={"help": "momentum factor"})
    weight_decay: float = field(
        default=0.0,
        metadata={
            "help": "decoupled weight decay: each step scales parameters by 1 - lr * wd",
            "aliases": ("--wd",),
        },
    )


@register_optimizer("nag", dataclass=NAGConfig)
class NAGOptimizer(Optimizer):
    """fairseq's ``nag`` optimizer."""

    def __init__(self, args: Any, params: Any) -> None:
        super().__init__(args, params)
        self.options = read_options(args, NAGConfig)
        self._optimizer = NAG(list(params), **self.optimizer_config)

    @property
    def optimizer_config(self) -> dict[str, Any]:
        """The keyword arguments of :class:`NAG` (overridable on resume)."""
        return {
            "lr": learning_rates(self.args)[0],
            "momentum": self.options.momentum,
            "weight_decay": self.options.weight_decay,
        }

    @property
    def supports_memory_efficient_fp16(self) -> bool:
        """fp16 parameters are updated in fp32 and written back."""
        return True

    @property
    def supports_flat_params(self) -> bool:
        """The update is elementwise, so one flattened parameter works."""
        return True
