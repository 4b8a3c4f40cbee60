"""Per-module incremental (decoding) state, keyed so that modules never collide."""

from __future__ import annotations

import uuid
from typing import Any

IncrementalStateDict = dict[str, dict[str, Any]]


class IncrementalState:
    """Mixin giving a module its own slot in a shared ``incremental_state`` dict."""

    def init_incremental_state(self) -> None:
        """Give this module a fresh key in incremental state dicts."""
        self._incremental_state_id = str(uuid.uuid4())

    def _state_key(self, key: str) -> str:
        if not hasattr(self, "_incremental_state_id"):
            self.init_incremental_state()
        return f"{self._incremental_state_id}.{key}"

    def get_incremental_state(
        self, incremental_state: IncrementalStateDict | None, key: str
    ) -> dict[str, Any] | None:
        """Return this module's saved state under ``key``, or None."""
        if incremental_state is None:
            return None
        return incremental_state.get(self._state_key(key))

    def set_incremental_state(
        self, incremental_state: IncrementalStateDict | None, key: str, value: dict[str, Any]
    ) -> IncrementalStateDict | None:
        """Save this module's state under ``key``."""
        if incremental_state is not None:
            incremental_state[self._state_key(key)] = value
        return incremental_state


def with_incremental_state(cls: type) -> type:
    """Class decorator (fairseq's) adding :class:`IncrementalState` to a module class."""
    cls.__bases__ = (IncrementalState,) + tuple(b for b in cls.__bases__ if b is not IncrementalState)
    return cls
