"""Pick torch.optim's fastest implementation (fused or foreach) that the parameters' devices support."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

# Device types whose fused / foreach kernels we rely on; elsewhere torch's per-tensor loop runs.
FUSED_DEVICES = frozenset({"cuda", "cpu"})
FOREACH_DEVICES = frozenset({"cuda", "xpu"})


def parameter_tensors(params: Iterable[Any]) -> list[torch.Tensor]:
    """Return every tensor of ``params``, given as tensors or as param-group dicts."""
    tensors: list[torch.Tensor] = []
    for item in params:
        if isinstance(item, dict):
            group = item["params"]
            tensors.extend([group] if torch.is_tensor(group) else group)
        else:
            tensors.append(item)
    return tensors


def fast_path_kwargs(params: Iterable[Any], fused_devices: frozenset[str] = FUSED_DEVICES) -> dict[str, bool]:
    """Return ``{"fused": True}``, ``{"foreach": True}`` or ``{}`` for a torch optimizer over ``params``."""
    tensors = parameter_tensors(params)
    if not tensors or any(t.is_sparse for t in tensors):
        return {}
    devices = {t.device.type for t in tensors}
    if devices <= fused_devices and all(torch.is_floating_point(t) for t in tensors):
        return {"fused": True}
    if devices <= FOREACH_DEVICES:
        return {"foreach": True}
    return {}
