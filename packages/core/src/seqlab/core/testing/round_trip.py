"""Save and reload state as a checkpoint does: ``torch.save``, then ``torch.load(weights_only=True)``."""

from __future__ import annotations

import io
from typing import Any

import torch

from .failures import Check


def round_trip(check: Check, state: Any, what: str) -> Any:
    """Return ``state`` after a save and a weights-only load; fail naming ``what`` if either breaks."""
    buf = io.BytesIO()
    with check.step(f"torch.save of {what}"):
        torch.save(state, buf)
    buf.seek(0)
    with check.step(f"torch.load(weights_only=True) of {what} (keep only tensors and plain data in it)"):
        return torch.load(buf, weights_only=True)
