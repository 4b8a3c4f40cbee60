"""Criterion base class (fairseq's ``FairseqCriterion`` contract)."""

from __future__ import annotations

import inspect
from typing import Any

import torch
from torch import nn

from .plugin_base import PluginOptions


class Criterion(PluginOptions, nn.Module):
    """A loss: ``forward(model, sample, reduce=True) -> (loss, sample_size, logging_output)``.

    The trainer divides the summed gradients by the summed ``sample_size``, so a
    criterion returns an unnormalised (summed) loss.
    """

    def __init__(self, task: Any) -> None:
        super().__init__()
        self.task = task
        tgt_dict = getattr(task, "target_dictionary", None) if task is not None else None
        self.padding_idx = tgt_dict.pad() if tgt_dict is not None else -100

    @classmethod
    def build_criterion(cls, args: Any, task: Any) -> Criterion:
        """Build the criterion, passing each ``__init__`` parameter from ``args`` by name."""
        init_args: dict[str, Any] = {}
        for p in inspect.signature(cls).parameters.values():
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                continue
            if p.name == "task":
                init_args["task"] = task
            elif p.name in ("cfg", "args"):
                init_args[p.name] = args
            elif hasattr(args, p.name):
                init_args[p.name] = getattr(args, p.name)
            elif p.default is p.empty:
                raise NotImplementedError(f"{cls.__name__}: no value for __init__ parameter {p.name!r}")
        return cls(**init_args)

    def forward(
        self, model: nn.Module, sample: dict[str, Any], reduce: bool = True
    ) -> tuple[torch.Tensor, Any, dict[str, Any]]:
        """Return ``(loss, sample_size, logging_output)`` for one mini-batch."""
        raise NotImplementedError(f"{type(self).__name__} must implement forward")

    @classmethod
    def reduce_metrics(cls, logging_outputs: list[dict[str, Any]]) -> None:
        """Aggregate logging outputs from data-parallel workers into ``seqlab.core.metrics``."""
        raise NotImplementedError(f"{cls.__name__} must implement reduce_metrics")

    @staticmethod
    def logging_outputs_can_be_summed() -> bool:
        """Whether logging outputs may be summed across workers before ``reduce_metrics``."""
        return False
