"""The activation functions fairseq's ``--activation-fn`` offers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, get_args

import torch
import torch.nn.functional as F

from seqlab.core import ConfigError


def _relu_squared(x: torch.Tensor) -> torch.Tensor:
    return F.relu(x).pow(2)


def _gelu_accurate(x: torch.Tensor) -> torch.Tensor:
    return F.gelu(x, approximate="tanh")


def _linear(x: torch.Tensor) -> torch.Tensor:
    return x


#: the choices of --activation-fn, for option dataclasses
ActivationFn = Literal["relu", "relu_squared", "gelu", "gelu_fast", "gelu_accurate", "tanh", "linear"]

ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "relu": F.relu,
    "relu_squared": _relu_squared,
    "gelu": F.gelu,
    "gelu_fast": _gelu_accurate,  # fairseq's deprecated name of gelu_accurate
    "gelu_accurate": _gelu_accurate,
    "tanh": torch.tanh,
    "linear": _linear,
}

assert set(ACTIVATIONS) == set(get_args(ActivationFn))


def get_activation_fn(name: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """Return the activation function called ``name``."""
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ConfigError(
            f"unknown --activation-fn '{name}'; choose one of {', '.join(ACTIVATIONS)}"
        ) from None
