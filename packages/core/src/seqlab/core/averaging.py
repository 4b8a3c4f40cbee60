"""Average the weights of several checkpoints (``seq-average-checkpoints``)."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from typing import Any

import torch

from .checkpoint_io import load_checkpoint_file
from .errors import SeqlabError


def last_checkpoints(folder: str, count: int, by_update: bool, upper_bound: int | None = None) -> list[str]:
    """The newest ``count`` epoch (``checkpointN.pt``) or update (``checkpoint_E_U.pt``) files."""
    pattern = re.compile(r"checkpoint_\d+_(\d+)\.pt" if by_update else r"checkpoint(\d+)\.pt")
    if not os.path.isdir(folder):
        raise SeqlabError(
            f"{folder} is not a folder; with --num-*-checkpoints pass the --save-dir as --inputs"
        )
    found = []
    for name in os.listdir(folder):
        match = pattern.fullmatch(name)
        if match and (upper_bound is None or int(match.group(1)) <= upper_bound):
            found.append((int(match.group(1)), os.path.join(folder, name)))
    if len(found) < count:
        kind = "update" if by_update else "epoch"
        raise SeqlabError(
            f"found {len(found)} {kind} checkpoints in {folder}, fewer than the {count} asked for"
        )
    return [path for _, path in sorted(found, reverse=True)[:count]]


def average_checkpoints(paths: Sequence[str]) -> dict[str, Any]:
    """Return the newest checkpoint with its model weights replaced by the mean over ``paths``."""
    if not paths:
        raise SeqlabError("no checkpoints to average")
    sums: dict[str, torch.Tensor] = {}
    newest: dict[str, Any] = {}
    for i, path in enumerate(paths):
        state = load_checkpoint_file(path)
        if i == 0:
            newest = state
        model = state["model"]
        if set(model) != set(newest["model"]):
            raise SeqlabError(
                f"{path} holds different parameters from {paths[0]}: they are not the same model"
            )
        for key, value in model.items():
            if not value.is_floating_point():
                continue  # counters and indices are taken from the newest checkpoint
            if value.shape != newest["model"][key].shape:
                raise SeqlabError(f"{path}: '{key}' has shape {tuple(value.shape)}, not that of {paths[0]}")
            sums[key] = sums[key] + value.double() if key in sums else value.double()
    averaged = {
        key: (sums[key] / len(paths)).to(value.dtype) if key in sums else value
        for key, value in newest["model"].items()
    }
    out = dict(newest)
    out["model"] = averaged
    out["averaged_from"] = [os.path.abspath(p) for p in paths]
    for key in ("optimizer", "lr_scheduler", "scaler"):
        out[key] = None  # an average is a model to use, not a run to resume
    return out
