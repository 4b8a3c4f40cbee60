"""``--checkpoint-activations``: keep only each layer's input, recompute the rest in the backward pass.

A layer's intermediate activations (attention weights, the feed-forward block's wide hidden
state, dropout masks) are what a training step's memory grows with; checkpointed, each layer
keeps its input alone and runs its forward pass a second time when the gradient reaches it,
for about a third more arithmetic. torch's checkpoint restores the random number generators'
state for the second pass, so dropout draws the same masks and the gradients equal those of
an ordinary step.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint


def run_layer(layer: nn.Module, checkpointed: bool, *args: Any, **kwargs: Any) -> Any:
    """``layer(*args, **kwargs)``; when ``checkpointed`` and gradients are recorded, with its activations recomputed."""
    if checkpointed and layer.training and torch.is_grad_enabled():
        return checkpoint(layer, *args, use_reentrant=False, **kwargs)
    return layer(*args, **kwargs)
