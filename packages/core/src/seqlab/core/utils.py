"""Small tensor helpers of fairseq's ``utils`` that plugins rely on."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from .incremental import IncrementalState, IncrementalStateDict


def get_incremental_state(
    module: IncrementalState, incremental_state: IncrementalStateDict | None, key: str
) -> dict[str, Any] | None:
    """Return a module's saved incremental state under ``key``."""
    return module.get_incremental_state(incremental_state, key)


def set_incremental_state(
    module: IncrementalState,
    incremental_state: IncrementalStateDict | None,
    key: str,
    value: dict[str, Any],
) -> IncrementalStateDict | None:
    """Save a module's incremental state under ``key``."""
    return module.set_incremental_state(incremental_state, key, value)


def convert_padding_direction(
    src_tokens: torch.Tensor,
    padding_idx: int,
    right_to_left: bool = False,
    left_to_right: bool = False,
) -> torch.Tensor:
    """Move padding from one side of each row to the other (exactly one direction flag set)."""
    assert right_to_left ^ left_to_right
    pad_mask = src_tokens.eq(padding_idx)
    if not pad_mask.any():
        return src_tokens
    if left_to_right and not pad_mask[:, 0].any():
        return src_tokens  # already left-padded
    if right_to_left and not pad_mask[:, -1].any():
        return src_tokens  # already right-padded
    max_len = src_tokens.size(1)
    num_pads = pad_mask.long().sum(dim=1, keepdim=True)
    steps = torch.arange(max_len, device=src_tokens.device).expand_as(src_tokens)
    if right_to_left:
        index = torch.remainder(steps - num_pads, max_len)
    else:
        index = torch.remainder(steps + num_pads, max_len)
    return src_tokens.gather(1, index)


def make_positions(tensor: torch.Tensor, padding_idx: int) -> torch.Tensor:
    """Number non-pad tokens from ``padding_idx + 1``; pads get ``padding_idx``."""
    mask = tensor.ne(padding_idx).int()
    return (torch.cumsum(mask, dim=1).type_as(mask) * mask).long() + padding_idx


def strip_pad(tensor: torch.Tensor, pad: int) -> torch.Tensor:
    """Return the non-pad elements of a 1-D tensor."""
    return tensor[tensor.ne(pad)]


def item(value: Any) -> Any:
    """Return a Python number from a one-element tensor (other values unchanged)."""
    if hasattr(value, "item"):
        return value.item()
    return value


def get_perplexity(loss: float | None, round: int = 2, base: float = 2) -> float:
    """Return ``base ** loss`` rounded, as fairseq reports perplexity; inf on overflow."""
    if loss is None:
        return 0.0
    try:
        return float(f"{base**loss:.{round}f}")
    except OverflowError:
        return math.inf


def apply_to_sample(fn: Callable[[torch.Tensor], Any], sample: Any) -> Any:
    """Apply ``fn`` to every tensor inside a nested sample (dicts, lists, tuples)."""
    if torch.is_tensor(sample):
        return fn(sample)
    if isinstance(sample, dict):
        return {k: apply_to_sample(fn, v) for k, v in sample.items()}
    if isinstance(sample, list):
        return [apply_to_sample(fn, v) for v in sample]
    if isinstance(sample, tuple):
        return tuple(apply_to_sample(fn, v) for v in sample)
    return sample


def move_to_device(sample: Any, device: torch.device | str) -> Any:
    """Move every tensor of a sample to ``device`` (non-blocking from pinned memory)."""
    return apply_to_sample(lambda t: t.to(device, non_blocking=True), sample)


def eval_str_list(text: Any, type: type = float) -> list[Any]:
    """Read ``"0.1,0.2"``, ``"[0.1, 0.2]"``, a number or a list into a list of ``type``."""
    if text is None:
        return []
    if isinstance(text, (list, tuple)):
        return [type(x) for x in text]
    if isinstance(text, (int, float)):
        return [type(text)]
    body = str(text).strip()
    if body[:1] in "[(" and body[-1:] in "])":
        body = body[1:-1]
    return [type(x.strip()) for x in body.split(",") if x.strip()]


def resolve_max_positions(*limits: Any) -> Any:
    """Combine max-positions limits (None, numbers or tuples) into the tightest one."""

    def merge(a: Any, b: Any) -> Any:
        if a is None:
            return b
        if b is None:
            return a
        if isinstance(a, tuple) and isinstance(b, tuple):
            return tuple(merge(x, y) for x, y in zip(a, b))
        if isinstance(a, tuple):
            return tuple(merge(x, b) for x in a)
        if isinstance(b, tuple):
            return tuple(merge(a, y) for y in b)
        return min(a, b)

    result = None
    for limit in limits:
        result = merge(result, limit)
    return result
