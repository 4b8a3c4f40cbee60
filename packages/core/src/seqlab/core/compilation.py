"""``--compile``: the training model's forward and backward through ``torch.compile``.

The model is compiled in place (``nn.Module.compile``), so its parameters, its state dict and
its checkpoints keep their names, and a checkpoint written with ``--compile`` loads in any
other run. Only the model's own forward pass is compiled: the criterion, the optimizer and
incremental decoding (validation BLEU, ``seq-generate``) stay eager. Batches of a new shape
compile once more, after which dynamic shapes are used, so the first updates are slow.

A compiled graph draws its dropout masks from the same seeded generator as eager code, so
resuming a compiled run is as exact as resuming an eager one; but it draws them differently,
so a compiled run and an eager run with dropout do not train identically.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

import torch

from .errors import SeqlabError

logger = logging.getLogger(__name__)


def compile_model(model: torch.nn.Module, device: torch.device, plain: torch.nn.Module | None = None) -> None:
    """Compile ``model``'s forward in place with ``torch.compile`` (inductor), or the parts it names.

    ``plain`` is the model inside any wrapper (DistributedDataParallel). If it has a
    ``compile_units()`` that returns modules, those are compiled one by one instead of the
    whole model: a model whose forward takes a different path from step to step (LayerDrop)
    would otherwise compile once per path.
    """
    plain = model if plain is None else plain
    units_of = getattr(plain, "compile_units", None)
    units = units_of() if callable(units_of) else None
    logger.info("--compile: the model runs through torch.compile; each new batch shape compiles at first")
    if device.type == "cpu":
        # measured on the benchmark transformer: docs/benchmarks.md, "torch.compile on a CPU"
        logger.warning(
            "--compile on a CPU trained the benchmark transformer about 25% slower than eager "
            "PyTorch; drop --compile unless your model measures faster with it"
        )
    if units:
        logger.info("--compile: compiling %d parts of the model one by one, as it asks", len(units))
        for unit in units:
            compile_training_calls(unit)
        return
    model.compile()


def compile_training_calls(module: torch.nn.Module, **options: Any) -> None:
    """Run ``module``'s forward through ``torch.compile`` while it trains, eagerly otherwise.

    A part of a model is also called by incremental decoding (validation BLEU), which stays
    eager as it does when the whole model is compiled (the generator calls the parts, not the
    model). ``options`` go to ``torch.compile`` (a test passes ``backend="eager"``).
    """
    eager = module.forward
    compiled = torch.compile(eager, **options)

    def forward(*args: Any, **kwargs: Any) -> Any:
        if module.training and torch.is_grad_enabled():
            return compiled(*args, **kwargs)
        return eager(*args, **kwargs)

    module.forward = forward


@contextlib.contextmanager
def compile_errors(enabled: bool) -> Iterator[None]:
    """Turn a ``torch.compile`` failure inside the block into one :class:`SeqlabError` line."""
    if not enabled:
        yield
        return
    from torch._dynamo.exc import TorchDynamoException

    try:
        yield
    except TorchDynamoException as exc:
        reason = next((line.strip() for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
        raise SeqlabError(
            f"--compile: torch.compile could not compile the model ({reason}); drop --compile to train "
            "without it (--debug shows the traceback)"
        ) from exc
