"""A task's generator and inference step, with defaults for plugin tasks that define neither."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import torch

from seqlab.tasks.generation import build_generator
from seqlab.tasks.translation import TranslationTask


def make_generator(
    task: Any, models: list[torch.nn.Module], args: Any, lm: torch.nn.Module | None = None
) -> Any:
    """``task.build_generator(models, args)``, or a beam-search generator over the target dictionary.

    A language model ``lm`` is fused with ``args.lm_weight``, passed as fairseq passes it
    (``extra_gen_cls_kwargs``).
    """
    extra = {} if lm is None else {"lm_model": lm, "lm_weight": args.lm_weight}
    build = getattr(task, "build_generator", None)
    if build is not None:
        return build(models, args, extra_gen_cls_kwargs=extra) if extra else build(models, args)
    return build_generator(models, args, task.target_dictionary, **extra)


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


def inference_batches(
    task: Any,
    generator: Any,
    models: list[torch.nn.Module],
    samples: Iterable[dict[str, Any]],
    prefix_size: int = 0,
) -> Iterator[tuple[dict[str, Any], list[list[dict[str, Any]]]]]:
    """Yield each batch of ``samples`` with its hypotheses, in the order the batches finish.

    Where the task's inference step is the plain generator call and no prefix is forced, the
    generator's ``generate_batches`` decodes each batch's last sentences with the next batch
    (tail merging); otherwise every batch goes through :func:`inference_step` in turn.
    """
    step = getattr(type(task), "inference_step", None)
    plain = step is None or step is TranslationTask.inference_step
    if plain and prefix_size == 0 and hasattr(generator, "generate_batches"):
        yield from generator.generate_batches(samples)
        return
    for sample in samples:
        target = sample.get("target")
        prefix = target[:, :prefix_size] if prefix_size > 0 and target is not None else None
        yield sample, inference_step(task, generator, models, sample, prefix)
