"""Dropout whose mask costs a quarter of the random numbers on a CPU.

``F.dropout`` on a CPU draws one Bernoulli sample per element, serially; for a small transformer
that is several percent of a training step. Here one 64-bit random word gives four 16-bit lanes,
each compared with ``p * 2**16``: the same distribution up to a rounding of ``p`` to 1/65536
(the scale uses the rounded value, so the expectation stays exact). Other devices keep
``F.dropout``, whose kernels draw masks in parallel, and so does code under ``torch.compile``,
whose generated kernels draw the mask in their fused elementwise pass (and for which this
module's packed mask drawing splits the graph). :func:`residual_dropout` adds the
dropped branch to the residual in the same pass (``addcmul``), with the same mask and the same
result.

The mask holds 0 and 1 as ``uint8``, not ``bool``: products with a mask convert it to the
tensor's float type first, and torch converts ``bool`` about 3x slower than ``uint8`` on a CPU
(345 against 98 us for a 4,096 x 256 mask); the comparison also writes ``uint8`` faster.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

_LEVELS = 1 << 16


def keep_mask(shape: torch.Size, p: float, device: torch.device) -> torch.Tensor:
    """A ``uint8`` mask of ``shape`` whose entries are 1 with probability ``1 - round(p, 1/65536)``, else 0."""
    n = math.prod(shape)
    words = torch.empty((n + 3) // 4, dtype=torch.int64, device=device).random_(-(1 << 63), (1 << 63) - 1)
    threshold = round(p * _LEVELS) - _LEVELS // 2
    lanes = words.view(torch.int16)[:n].view(shape)
    return torch.ge(lanes, threshold, out=torch.empty(shape, dtype=torch.uint8, device=device))


class _CpuDropout(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, p: float) -> torch.Tensor:
        keep = keep_mask(x.shape, p, x.device)
        scale = _LEVELS / (_LEVELS - round(p * _LEVELS))
        ctx.save_for_backward(keep)
        ctx.scale = scale
        return torch.mul(x, keep).mul_(scale)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        (keep,) = ctx.saved_tensors
        return torch.mul(grad, keep).mul_(ctx.scale), None


def dropout(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """``F.dropout(x, p, training)``, drawing its mask more cheaply on a CPU."""
    if not training or p <= 0.0:
        return x
    if x.device.type != "cpu" or p >= 1.0 or round(p * _LEVELS) == 0 or torch.compiler.is_compiling():
        return F.dropout(x, p, training=True)
    return _CpuDropout.apply(x, p)


class _CpuResidualDropout(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, residual: torch.Tensor, x: torch.Tensor, p: float) -> torch.Tensor:
        keep = keep_mask(x.shape, p, x.device)
        scale = _LEVELS / (_LEVELS - round(p * _LEVELS))
        ctx.save_for_backward(keep)
        ctx.scale = scale
        return torch.addcmul(residual, x, keep, value=scale)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, None]:
        (keep,) = ctx.saved_tensors
        return grad, torch.mul(grad, keep).mul_(ctx.scale), None


def residual_dropout(residual: torch.Tensor, x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """``residual + dropout(x, p, training)``, one pass over the tensors on a CPU."""
    if not training or p <= 0.0:
        return residual + x
    if (
        x.device.type != "cpu"
        or p >= 1.0
        or round(p * _LEVELS) == 0
        or residual.shape != x.shape
        or torch.compiler.is_compiling()
    ):
        return residual + dropout(x, p, training)
    return _CpuResidualDropout.apply(residual, x, p)
