"""A task's generator and inference step, with defaults for plugin tasks that define neither."""

from __future__ import annotations

from typing import Any

import torch

from seqlab.tasks.generation import build_generator


def make_generator(task: Any, models: list[torch.nn.Module], args: Any) -> Any:
    """``task.build_generator(models, args)``, or a beam-search generator over the target dictionary."""
    build = getattr(task, "build_generator", None)
    if build is not None:
        return build(models, args)
    return build_generator(models, args, task.target_dictionary)


def inference_step(
    task: Any,
    generator: Any,
    models: list[torch.nn.Module],
    sample: dict[str, Any],
    prefix_tokens: Any = None,
) -> list[list[dict[str, Any]]]:
    """``task.inference_step(...)``, or the generator on the batch."""
    step = getattr(task, "inference_step", None)
    if step is not None:
        return step(generator, models, sample, prefix_tokens=prefix_tokens)
    with torch.no_grad():
        return generator.generate(models, sample, prefix_tokens=prefix_tokens)
