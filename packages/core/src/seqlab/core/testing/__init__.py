"""Helpers for the tests of seqlab and of plugin packages.

``isolated_plugins`` undoes registrations made in a test. The conformance checks verify
that a plugin keeps the contract the Trainer, the generator and the checkpoints rely on;
a plugin package's tests call them::

    from seqlab.core.testing import check_model, check_registration

    def test_my_model_conforms():
        check_registration("model", "my_model")
        check_model("my_model")

Each check raises an AssertionError saying what broke. The checks import torch, so they
load on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from .isolation import isolated_plugins

_LAZY = {
    "ConformanceError": "failures",
    "check_registration": "registration_checks",
    "check_model": "model_checks",
    "check_incremental_decoder": "incremental_checks",
    "check_criterion": "criterion_checks",
    "check_optimizer": "optimizer_checks",
    "check_lr_scheduler": "scheduler_checks",
    "check_task": "task_checks",
    "DummyTask": "dummy_task",
    "dummy_dictionary": "dummy_task",
    "DummyTranslationModel": "dummy_model",
    "translation_batch": "batches",
    "language_model_batch": "batches",
    "time_limit": "time_limit",
    "TimeLimitExceeded": "time_limit",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'seqlab.core.testing' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = ["isolated_plugins", *sorted(_LAZY)]
