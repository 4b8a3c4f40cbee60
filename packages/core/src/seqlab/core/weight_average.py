"""``--store-ema``: an exponential moving average of the model's weights, kept beside training.

After every ``--ema-update-freq``-th update, each averaged parameter moves toward the model's:
``ema = decay * ema + (1 - decay) * param`` (one fused ``_foreach_lerp_`` over all of them),
with ``decay = 0`` (a plain copy) before ``--ema-start-update``; buffers are copied. The
average is saved in every checkpoint as ``ema`` and restored on resume, so a resumed run
averages exactly as an uninterrupted one (the update count, not a counter of its own, says
when to update). The inference tools decode with it under ``--ema-weights``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .errors import ConfigError


class WeightAverage:
    """The moving average of one model's state dict (tied parameters stay one tensor)."""

    def __init__(self, model: nn.Module, decay: float, start_update: int = 0, update_freq: int = 1) -> None:
        if not 0.0 <= decay <= 1.0:
            raise ConfigError(f"--ema-decay must be between 0 and 1, not {decay}")
        if update_freq < 1:
            raise ConfigError(f"--ema-update-freq must be at least 1, not {update_freq}")
        self.decay, self.start_update, self.update_freq = decay, start_update, update_freq
        self.model = model
        self.shadow = _copied(model.state_dict())
        self._pairs()

    def _pairs(self) -> None:
        """Which shadow tensors follow which parameters (averaged) and buffers (copied)."""
        shadow = self.shadow
        self._params = [(shadow[n], p) for n, p in self.model.named_parameters() if p.is_floating_point()]
        averaged = {id(s) for s, _ in self._params}
        self._copies = [
            (shadow[n], b)
            for n, b in self.model.named_buffers()
            if n in shadow and id(shadow[n]) not in averaged
        ]

    @torch.no_grad()
    def step(self, num_updates: int) -> None:
        """Average in the model's weights after update ``num_updates`` (when it is due)."""
        if num_updates % self.update_freq:
            return
        weight = 1.0 if num_updates < self.start_update else 1.0 - self.decay
        if self._params:
            torch._foreach_lerp_([s for s, _ in self._params], [p.detach() for _, p in self._params], weight)
        for target, buffer in self._copies:
            target.copy_(buffer)

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The averaged weights, in the model's state-dict layout."""
        return self.shadow

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Continue from a saved average (same layout as the model's state dict)."""
        missing = sorted(set(self.shadow) - set(state))
        if missing:
            raise ConfigError(
                f"the checkpoint's ema weights lack {missing[0]}: it was saved from another model"
            )
        for name, tensor in self.shadow.items():
            tensor.copy_(state[name])


def _copied(state: dict[str, Any]) -> dict[str, torch.Tensor]:
    """A detached copy of a state dict in which tensors the model ties stay one tensor."""
    copies: dict[int, torch.Tensor] = {}
    out = {}
    for name, tensor in state.items():
        key = id(tensor) if tensor.data_ptr() == 0 else tensor.data_ptr()
        if key not in copies:
            copies[key] = tensor.detach().clone()
        out[name] = copies[key]
    return out
