"""``--checkpoint-activations``: keep only each layer's input, recompute the rest in the backward pass.

A layer's intermediate activations (attention weights, the feed-forward block's wide hidden
state, dropout masks) are what a training step's memory grows with; checkpointed, each layer
keeps its input alone and runs its forward pass a second time when the gradient reaches it,
for about a third more arithmetic. torch's checkpoint restores the random number generators'
state for the second pass, so dropout draws the same masks and the gradients equal those of
an ordinary step.

``--offload-activations`` (fairseq's flag) checkpoints the same way and also moves the layer
inputs it keeps from the GPU to (pinned) CPU memory until the backward pass needs them; on a
CPU there is nothing to move and it is ``--checkpoint-activations``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

#: how a layer keeps its activations for the backward pass: all of them, its input (recomputing
#: the rest), or its input in CPU memory
KEEP_ALL, RECOMPUTE, OFFLOAD = "all", "recompute", "offload"


def activation_mode(args: Any) -> str:
    """The mode ``--checkpoint-activations`` / ``--offload-activations`` ask for."""
    if getattr(args, "offload_activations", False):
        return OFFLOAD
    return RECOMPUTE if getattr(args, "checkpoint_activations", False) else KEEP_ALL


def run_layer(layer: nn.Module, mode: str, *args: Any, **kwargs: Any) -> Any:
    """``layer(*args, **kwargs)``; in training steps that record gradients, checkpointed as ``mode`` says."""
    if mode == KEEP_ALL or not layer.training or not torch.is_grad_enabled():
        return layer(*args, **kwargs)
    if mode == OFFLOAD and args and isinstance(args[0], torch.Tensor) and args[0].is_cuda:
        with torch.autograd.graph.save_on_cpu(pin_memory=True):
            return checkpoint(layer, *args, use_reentrant=False, **kwargs)
    return checkpoint(layer, *args, use_reentrant=False, **kwargs)
