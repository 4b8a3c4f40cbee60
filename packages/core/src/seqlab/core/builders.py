"""Build the chosen plugins from the resolved flat ``args``."""

from __future__ import annotations

from typing import Any

from .registry import get_plugin, resolve_architecture


def setup_task(args: Any, **kwargs: Any) -> Any:
    """Build the task chosen by ``--task``."""
    return get_plugin("task", args.task).obj.setup_task(args, **kwargs)


def build_model(args: Any, task: Any) -> Any:
    """Build the model of the architecture chosen by ``--arch``."""
    _, model = resolve_architecture(args.arch)
    return model.obj.build_model(args, task)


def build_criterion(args: Any, task: Any) -> Any:
    """Build the criterion chosen by ``--criterion``."""
    return get_plugin("criterion", args.criterion).obj.build_criterion(args, task)


def build_optimizer(args: Any, params: Any) -> Any:
    """Build the optimizer chosen by ``--optimizer`` over ``params``."""
    return get_plugin("optimizer", args.optimizer).obj(args, list(params))


def build_lr_scheduler(args: Any, optimizer: Any) -> Any:
    """Build the lr scheduler chosen by ``--lr-scheduler``."""
    return get_plugin("lr_scheduler", args.lr_scheduler).obj(args, optimizer)
