"""Run a test against the registries as they are, and leave them exactly so."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

from .. import discovery, registry, user_dir


@contextlib.contextmanager
def isolated_plugins() -> Iterator[None]:
    """Undo every registration, user-dir import and user-dir module made inside the block."""
    saved = {kind: dict(reg._plugins) for kind, reg in registry.REGISTRIES.items()}
    owners = dict(user_dir._owners)
    env = os.environ.get(user_dir.ENV_VAR)
    try:
        yield
    finally:
        for kind, reg in registry.REGISTRIES.items():
            reg._plugins.clear()
            reg._plugins.update(saved[kind])
        for name in list(user_dir._owners):
            if name not in owners:
                for key in [k for k in sys.modules if k == name or k.startswith(name + ".")]:
                    del sys.modules[key]
        user_dir._owners.clear()
        user_dir._owners.update(owners)
        if env is None:
            os.environ.pop(user_dir.ENV_VAR, None)
        else:
            os.environ[user_dir.ENV_VAR] = env
        discovery.refresh()
