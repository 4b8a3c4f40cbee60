"""seqlab-core: registries, plugin base classes, options, data, the Trainer and checkpoints.

Plugin authors import everything from here::

    from seqlab.core import register_model, FairseqEncoderDecoderModel

The base classes (which import torch) load on first use, so listing plugins and
printing ``--help`` stay fast.
"""

from __future__ import annotations

import importlib
from typing import Any

from .builders import build_criterion, build_lr_scheduler, build_model, build_optimizer, setup_task
from .errors import ConfigError, PluginError, SeqlabError
from .incremental import with_incremental_state
from .registry import (
    get_plugin,
    plugin_names,
    register_criterion,
    register_lr_scheduler,
    register_model,
    register_model_architecture,
    register_optimizer,
    register_task,
)
from .user_dir import import_user_dir, import_user_dirs

__version__ = "0.1.0"

# Names of ``bases.__all__``, listed here so that importing seqlab.core does not import torch.
_BASES = (
    "BaseModel", "EncoderDecoderModel", "EncoderModel", "LanguageModel", "Encoder", "Decoder",
    "IncrementalDecoder", "IncrementalState", "Criterion", "Task", "Optimizer", "LRScheduler",
    "BaseFairseqModel", "FairseqEncoderDecoderModel", "FairseqEncoderModel", "FairseqLanguageModel",
    "FairseqEncoder", "FairseqDecoder", "FairseqIncrementalDecoder", "FairseqIncrementalState",
    "FairseqCriterion", "FairseqTask", "LegacyFairseqTask", "FairseqOptimizer",
    "LegacyFairseqOptimizer", "FairseqLRScheduler", "LegacyFairseqLRScheduler",
)  # fmt: skip
_LAZY = dict.fromkeys(_BASES, "bases")
_LAZY["Dictionary"] = "dictionary"


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'seqlab.core' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "ConfigError",
    "PluginError",
    "SeqlabError",
    "build_criterion",
    "build_lr_scheduler",
    "build_model",
    "build_optimizer",
    "get_plugin",
    "import_user_dir",
    "import_user_dirs",
    "plugin_names",
    "register_criterion",
    "register_lr_scheduler",
    "register_model",
    "register_model_architecture",
    "register_optimizer",
    "register_task",
    "setup_task",
    "with_incremental_state",
    *sorted(_LAZY),
]
