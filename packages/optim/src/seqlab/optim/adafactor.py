"""``adafactor``: Adafactor with factored second moments, following fairseq's formula and flags."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from seqlab.core import ConfigError, Optimizer, register_optimizer

from .option_values import float_tuple, learning_rates, read_options

_LOW_PRECISION = (torch.float16, torch.bfloat16)


def _rms(tensor: torch.Tensor) -> torch.Tensor:
    return tensor.norm(2) / (tensor.numel() ** 0.5)


class Adafactor(torch.optim.Optimizer):
    """Adafactor (Shazeer and Stern, 2018) as fairseq computes it.

    Matrices keep row and column means of the squared gradient instead of a full
    second moment; the update is clipped to RMS ``clip_threshold``, optionally
    averaged with ``beta1``, and scaled by the step size. The step size is the
    group's lr, or ``min(1e-2, 1/sqrt(step))`` with ``relative_step`` (which then
    ignores the lr), times ``max(eps[1], RMS(param))`` with ``scale_parameter``.
    fairseq writes each parameter's step size back into the group's lr, so with
    ``scale_parameter`` the scales of all parameters multiply; here each
    parameter's step size is computed afresh, as the paper defines it.
    fp16/bf16 parameters are updated in fp32 and written back.
    """

    def __init__(
        self,
        params: Any,
        lr: float,
        eps: tuple[float, float] = (1e-30, 1e-3),
        clip_threshold: float = 1.0,
        decay_rate: float = -0.8,
        beta1: float | None = None,
        weight_decay: float = 0.0,
        scale_parameter: bool = False,
        relative_step: bool = False,
        warmup_init: bool = False,
    ) -> None:
        if warmup_init and not relative_step:
            raise ValueError("warmup_init requires relative_step=True")
        defaults = {
            "lr": lr,
            "eps": tuple(eps),
            "clip_threshold": clip_threshold,
            "decay_rate": decay_rate,
            "beta1": beta1,
            "weight_decay": weight_decay,
            "scale_parameter": scale_parameter,
            "relative_step": relative_step,
            "warmup_init": warmup_init,
        }
        super().__init__(params, defaults)

    @staticmethod
    def _relative_step_size(group: dict[str, Any], step: int) -> float:
        min_step = 1e-6 * step if group["warmup_init"] else 1e-2
        return min(min_step, 1.0 / math.sqrt(step))

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Apply one update."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            relative = None
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    raise RuntimeError("Adafactor does not support sparse gradients")
                relative = self._update(p, group)
            if relative is not None:
                group["lr"] = relative  # report the step size in use (the lr is ignored then)
        return loss

    def _update(self, p: torch.Tensor, group: dict[str, Any]) -> float | None:
        low_precision = p.dtype in _LOW_PRECISION
        grad = p.grad.float() if low_precision else p.grad
        weight = p.float() if low_precision else p
        factored = grad.dim() >= 2
        state = self._state_for(p, grad, factored, group["beta1"] is not None)
        state["step"] += 1
        step = state["step"]

        relative = self._relative_step_size(group, step) if group["relative_step"] else None
        step_size: float | torch.Tensor = group["lr"] if relative is None else relative
        if group["scale_parameter"]:
            step_size = _rms(weight).clamp(min=group["eps"][1]) * step_size

        beta2t = 1.0 - math.pow(step, group["decay_rate"])
        squared = grad.square().add_(group["eps"][0])
        if factored:
            row, col = state["exp_avg_sq_row"], state["exp_avg_sq_col"]
            row.mul_(beta2t).add_(squared.mean(dim=-1), alpha=1.0 - beta2t)
            col.mul_(beta2t).add_(squared.mean(dim=-2), alpha=1.0 - beta2t)
            row_factor = (row / row.mean(dim=-1, keepdim=True)).rsqrt_().unsqueeze(-1)
            update = row_factor * col.unsqueeze(-2).rsqrt()
            update.mul_(grad)
        else:
            second = state["exp_avg_sq"]
            second.mul_(beta2t).add_(squared, alpha=1.0 - beta2t)
            update = second.rsqrt().mul_(grad)
        update.div_((_rms(update) / group["clip_threshold"]).clamp_(min=1.0))
        update.mul_(step_size)
        if group["beta1"] is not None:
            update = state["exp_avg"].mul_(group["beta1"]).add_(update, alpha=1.0 - group["beta1"])

        if group["weight_decay"] != 0:
            weight.mul_(1.0 - group["weight_decay"] * step_size)
        weight.sub_(update)
        if low_precision:
            p.copy_(weight)
        return relative

    def _state_for(
        self, p: torch.Tensor, grad: torch.Tensor, factored: bool, first_moment: bool
    ) -> dict[str, Any]:
        state = self.state[p]
        if not state:
            state["step"] = 0
            if first_moment:
                state["exp_avg"] = torch.zeros_like(grad)
            if factored:
                state["exp_avg_sq_row"] = grad.new_zeros(grad.shape[:-1])
                state["exp_avg_sq_col"] = grad.new_zeros(grad.shape[:-2] + grad.shape[-1:])
            else:
                state["exp_avg_sq"] = torch.zeros_like(grad)
            return state
        for key in ("exp_avg", "exp_avg_sq_row", "exp_avg_sq_col", "exp_avg_sq"):
            if key in state and (state[key].dtype != grad.dtype or state[key].device != grad.device):
                state[key] = state[key].to(grad)  # loading casts state to the parameter's dtype
        return state


@dataclass
class AdafactorConfig:
    """Options of the ``adafactor`` optimizer."""

    adafactor_eps: str = field(
        default="(1e-30, 1e-3)",
        metadata={"help": "epsilons for the squared gradient and the parameter scale, as '(e1, e2)'"},
    )
    clip_threshold: float = field(default=1.0, metadata={"help": "clip each update to this root mean square"})
    decay_rate: float = field(
        default=-0.8, metadata={"help": "second moments decay with beta2 = 1 - step ** decay_rate"}
    )
    beta1: float | None = field(
        default=None, metadata={"help": "average updates with this momentum (default: no first moment)"}
    )
    weight_decay: float = field(
        default=0.0,
        metadata={"help": "decoupled weight decay, scaled by the step size", "aliases": ("--wd",)},
    )
    scale_parameter: bool = field(
        default=False, metadata={"help": "scale the step size by the root mean square of each parameter"}
    )
    relative_step: bool = field(
        default=False,
        metadata={"help": "step size min(1e-2, 1/sqrt(step)) instead of --lr and its schedule"},
    )
    warmup_init: bool = field(
        default=False,
        metadata={"help": "with --relative-step, warm the step size up as 1e-6 * step"},
    )


@register_optimizer("adafactor", dataclass=AdafactorConfig)
class AdafactorOptimizer(Optimizer):
    """fairseq's ``adafactor`` optimizer."""

    def __init__(self, args: Any, params: Any) -> None:
        super().__init__(args, params)
        self.options = read_options(args, AdafactorConfig)
        if self.options.warmup_init and not self.options.relative_step:
            raise ConfigError(
                "--warmup-init needs --relative-step: add --relative-step or drop --warmup-init"
            )
        self._optimizer = Adafactor(list(params), **self.optimizer_config)

    @property
    def optimizer_config(self) -> dict[str, Any]:
        """The keyword arguments of :class:`Adafactor` (overridable on resume)."""
        o = self.options
        return {
            "lr": learning_rates(self.args)[0],
            "eps": float_tuple(o.adafactor_eps, "--adafactor-eps", 2),
            "clip_threshold": o.clip_threshold,
            "decay_rate": o.decay_rate,
            "beta1": o.beta1,
            "weight_decay": o.weight_decay,
            "scale_parameter": o.scale_parameter,
            "relative_step": o.relative_step,
            "warmup_init": o.warmup_init,
        }

    @property
    def supports_memory_efficient_fp16(self) -> bool:
        """fp16 parameters are updated in fp32 and written back."""
        return True
