"""Mixed precision: bf16 autocast, or fp16 autocast with dynamic loss scaling."""

from __future__ import annotations

import contextlib
import logging
from typing import Any

import torch

from .errors import SeqlabError
from .onednn_cache import widen_primitive_cache

logger = logging.getLogger(__name__)

#: /proc/cpuinfo flags of x86 CPUs that compute in bf16 natively
NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def native_bf16_flags(cpuinfo: str = "/proc/cpuinfo") -> list[str] | None:
    """This CPU's native-bf16 flags, sorted (None where /proc/cpuinfo cannot tell: not x86 Linux)."""
    try:
        with open(cpuinfo, encoding="utf-8", errors="replace") as fh:
            flags = next((line for line in fh if line.startswith("flags")), None)
    except OSError:
        return None
    if flags is None:
        return None
    return sorted(set(flags.split()) & set(NATIVE_BF16_FLAGS))


def cpu_has_native_bf16(cpuinfo: str = "/proc/cpuinfo") -> bool | None:
    """Whether this CPU computes in bf16 natively (None where /proc/cpuinfo cannot tell)."""
    flags = native_bf16_flags(cpuinfo)
    return None if flags is None else bool(flags)


class Precision:
    """Autocast context and, with ``--fp16``, the gradient scaler and its overflow handling."""

    def __init__(self, args: Any, device: torch.device) -> None:
        if getattr(args, "fp16", False) and getattr(args, "bf16", False):
            raise SeqlabError("--fp16 and --bf16 are exclusive; choose one")
        self.device = device
        self.dtype = torch.bfloat16 if args.bf16 else torch.float16 if args.fp16 else None
        self.min_loss_scale = float(getattr(args, "min_loss_scale", 1e-4))
        self.scaler: torch.amp.GradScaler | None = None
        if args.bf16 and device.type == "cpu" and cpu_has_native_bf16() is False:
            # emulated bf16 measured about 10x slower than fp32 on such a CPU
            logger.warning(
                "--bf16 on a CPU without native bf16 (no %s in /proc/cpuinfo): bf16 is emulated and "
                "usually much slower than fp32; drop --bf16 to train in fp32",
                " or ".join(NATIVE_BF16_FLAGS),
            )
        if self.dtype is not None and device.type == "cpu":
            widen_primitive_cache()  # before the first bf16 or fp16 product compiles a kernel
        if args.fp16:
            self.scaler = torch.amp.GradScaler(
                device.type,
                init_scale=float(args.fp16_init_scale),
                growth_interval=int(getattr(args, "fp16_scale_window", 2000)),
            )

    def autocast(self) -> contextlib.AbstractContextManager:
        """The autocast context for forward passes (a no-op in fp32)."""
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.dtype)

    @property
    def loss_scale(self) -> float | None:
        """The current loss scale (None without ``--fp16``)."""
        return None if self.scaler is None else float(self.scaler.get_scale())

    def unscale_(self, optimizer: Any) -> None:
        """Divide the gradients by the loss scale before they are inspected or clipped."""
        if self.scaler is not None:
            self.scaler.unscale_(optimizer.optimizer)

    def step(self, optimizer: Any) -> bool:
        """Apply the update; return False when fp16 gradients overflowed and the step was skipped."""
        if self.scaler is None:
            optimizer.step()
            return True
        before = self.scaler.get_scale()
        self.scaler.step(optimizer.optimizer)
        self.scaler.update()
        overflow = self.scaler.get_scale() < before
        if overflow and self.scaler.get_scale() < self.min_loss_scale:
            raise SeqlabError(
                f"the fp16 loss scale fell below --min-loss-scale {self.min_loss_scale}: the loss keeps "
                "overflowing. Lower --lr, add --clip-norm, or train with --bf16 or in fp32"
            )
        return not overflow

    def state_dict(self) -> dict[str, Any] | None:
        """The scaler's state, for checkpoints."""
        return None if self.scaler is None else self.scaler.state_dict()

    def load_state_dict(self, state: dict[str, Any] | None) -> None:
        """Restore the scaler's state."""
        if self.scaler is not None and state:
            self.scaler.load_state_dict(state)
