"""Optimizer wrapper base class (fairseq's ``FairseqOptimizer`` contract)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import torch

from .plugin_base import PluginOptions


class Optimizer(PluginOptions):
    """Wraps a ``torch.optim.Optimizer`` in ``self._optimizer``; subclasses build it in ``__init__``."""

    #: set by the Trainer under ``--fp16``: ``backward`` then scales the loss first
    grad_scaler: torch.amp.GradScaler | None = None

    def __init__(self, args: Any, params: Any = None) -> None:
        self.args = args
        self.cfg = args

    @property
    def optimizer(self) -> torch.optim.Optimizer:
        """The wrapped ``torch.optim.Optimizer``."""
        if not hasattr(self, "_optimizer"):
            raise NotImplementedError(f"{type(self).__name__} must set self._optimizer")
        if not isinstance(self._optimizer, torch.optim.Optimizer):
            raise ValueError("_optimizer must be an instance of torch.optim.Optimizer")
        return self._optimizer

    @optimizer.setter
    def optimizer(self, optimizer: torch.optim.Optimizer) -> None:
        self._optimizer = optimizer

    @property
    def optimizer_config(self) -> dict[str, Any]:
        """The keyword arguments that rebuild the optimizer (overridable on resume)."""
        raise NotImplementedError(f"{type(self).__name__} must implement optimizer_config")

    @property
    def params(self) -> Iterator[torch.Tensor]:
        """Every parameter the optimizer updates."""
        for group in self.param_groups:
            yield from group["params"]

    @property
    def param_groups(self) -> list[dict[str, Any]]:
        """The wrapped optimizer's parameter groups."""
        return self.optimizer.param_groups

    def __getstate__(self) -> dict[str, Any]:
        return self.__dict__

    def get_lr(self) -> float:
        """The current learning rate."""
        return self.param_groups[0]["lr"]

    def set_lr(self, lr: float) -> None:
        """Set the learning rate of every group."""
        for group in self.param_groups:
            group["lr"] = lr

    def state_dict(self) -> dict[str, Any]:
        """The optimizer's state."""
        return self.optimizer.state_dict()

    def load_state_dict(
        self, state_dict: dict[str, Any], optimizer_overrides: dict[str, Any] | None = None
    ) -> None:
        """Load state, then apply ``optimizer_overrides`` (e.g. a new lr) to every group."""
        self.optimizer.load_state_dict(state_dict)
        if optimizer_overrides:
            for group in self.param_groups:
                group.update(optimizer_overrides)

    def backward(self, loss: torch.Tensor) -> None:
        """Compute gradients of ``loss`` (the seed's hook for the backward pass)."""
        if self.grad_scaler is not None:
            loss = self.grad_scaler.scale(loss)
        loss.backward()

    def all_reduce_grads(self, module: Any) -> None:
        """Let a module that reduces its own gradients do so."""
        if hasattr(module, "all_reduce_grads"):
            module.all_reduce_grads()

    def _grads(self) -> list[torch.Tensor]:
        return [p.grad for p in self.params if p.grad is not None]

    def multiply_grads(self, c: float | torch.Tensor) -> None:
        """Multiply every gradient by ``c`` in place."""
        grads = self._grads()
        if not grads:
            return
        by_device: dict[tuple[torch.device, torch.dtype], list[torch.Tensor]] = {}
        for g in grads:
            by_device.setdefault((g.device, g.dtype), []).append(g)
        for (device, _), group in by_device.items():
            factor = c.to(device) if torch.is_tensor(c) else c
            torch._foreach_mul_(group, factor)

    def clip_grad_norm(
        self, max_norm: float, aggregate_norm_fn: Callable[[torch.Tensor], torch.Tensor] | None = None
    ) -> torch.Tensor:
        """Clip gradients to ``max_norm`` (0: measure only); return the norm before clipping."""
        params = [p for p in self.params if p.grad is not None]
        if not params:
            return torch.tensor(0.0)
        norm = torch.nn.utils.get_total_norm([p.grad for p in params], foreach=True)
        if aggregate_norm_fn is not None:
            norm = aggregate_norm_fn(norm)
        if max_norm > 0:
            torch.nn.utils.clip_grads_with_norm_(params, max_norm, norm, foreach=True)
        return norm

    def step(self, closure: Callable[[], Any] | None = None, scale: float = 1.0, groups: Any = None) -> None:
        """Apply one update; ``scale`` divides the gradients first (loss scaling)."""
        if scale != 1.0:
            self.multiply_grads(1.0 / scale)
        self.optimizer.step(closure)

    def zero_grad(self) -> None:
        """Drop the gradients (set to None)."""
        self.optimizer.zero_grad(set_to_none=True)

    @property
    def supports_memory_efficient_fp16(self) -> bool:
        """Whether the optimizer can keep fp16 parameters without an fp32 copy."""
        return False

    @property
    def supports_step_with_scale(self) -> bool:
        """Whether ``step`` applies ``scale`` itself without touching the gradients."""
        return False

    @property
    def supports_flat_params(self) -> bool:
        """Whether the optimizer works on one flattened parameter tensor."""
        return False
