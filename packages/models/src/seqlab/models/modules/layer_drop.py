"""LayerDrop (Fan et al., 2019): in training, each layer of a stack is skipped with probability ``p``.

fairseq's ``--encoder-layerdrop``/``--decoder-layerdrop``: one uniform draw per layer and
forward pass, a layer running when its draw exceeds ``p``. In evaluation, and in any pass
without gradients (generation, also with ``--retain-dropout``, whose incremental caches need
every layer at every step), every layer runs. The draws come from torch's CPU generator,
which training seeds per update, so a resumed run skips the same layers. A skipped layer's
parameters get no gradient in that step, so a model using LayerDrop sets
``find_unused_parameters`` for DistributedDataParallel. Under ``--compile`` a model with
LayerDrop compiles each layer of its LayerDrop stacks on its own (:func:`compile_units`).
"""

from __future__ import annotations

import torch
from torch import nn

from seqlab.core import ConfigError


def check_layerdrop(p: float, flag: str) -> float:
    """``p`` if it is a probability below 1 (skipping every layer always would train nothing)."""
    if not 0.0 <= p < 1.0:
        raise ConfigError(f"{flag} must be at least 0 and below 1, not {p}")
    return p


def kept_layers(layers: nn.ModuleList, p: float, training: bool) -> list[nn.Module]:
    """The layers that run in this forward pass."""
    if not training or p <= 0.0 or not torch.is_grad_enabled():
        return list(layers)
    draws = torch.rand(len(layers)).tolist()  # CPU: no device synchronisation
    return [layer for layer, u in zip(layers, draws) if u > p]


def compile_units(stacks: list[nn.Module]) -> list[nn.Module] | None:
    """What ``--compile`` compiles: None (the whole model) without LayerDrop; with it, each layer
    of a stack that drops layers, and each other stack whole.

    Compiled whole, such a model traced one graph per combination of kept layers (17 graphs in
    20 steps of a 4+4-layer transformer, past dynamo's limit of 8 per function, after which it
    runs eagerly); layer by layer, the skipping happens between compiled layers, and the layers
    of a stack share one graph.
    """
    if not any(getattr(stack, "layerdrop", 0.0) > 0 for stack in stacks):
        return None
    units: list[nn.Module] = []
    for stack in stacks:
        units.extend(stack.layers if stack.layerdrop > 0 else [stack])
    return units
