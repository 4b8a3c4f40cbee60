"""How a conformance check reports what broke: an AssertionError naming the check and the plugin."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn


class ConformanceError(AssertionError):
    """A plugin broke the contract a conformance check verifies."""


class Check:
    """The check being run (``check_model('gru')``), prefixed to every failure message."""

    def __init__(self, check: str, name: str) -> None:
        self.label = f"{check}({name!r})"

    def fail(self, message: str) -> NoReturn:
        """Raise a :class:`ConformanceError` saying what broke."""
        raise ConformanceError(f"{self.label}: {message}")

    def expect(self, condition: Any, message: str | Callable[[], str]) -> None:
        """Fail with ``message`` (or what it returns) unless ``condition`` holds."""
        if not condition:
            self.fail(message() if callable(message) else message)

    @contextmanager
    def step(self, what: str) -> Iterator[None]:
        """Turn an exception raised while doing ``what`` into a failure naming it."""
        try:
            yield
        except ConformanceError:
            raise
        except Exception as exc:  # the plugin's code may raise anything: say where it happened
            self.fail(f"{what} raised {type(exc).__name__}: {exc}")
