"""Fail a test that hangs: ``with time_limit(5): ...`` raises instead of blocking CI forever."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class TimeLimitExceeded(AssertionError):
    """The guarded code ran longer than its limit (a likely hang)."""


@contextmanager
def time_limit(seconds: float, what: str = "the guarded code") -> Iterator[None]:
    """Raise :class:`TimeLimitExceeded` if the body runs longer than ``seconds``.

    Uses ``SIGALRM``, so it guards only on POSIX and in the main thread; elsewhere it
    is a no-op rather than an error, since a missing guard loses nothing but hang detection.
    """
    if not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield
        return

    def _expired(signum: int, frame: Any) -> None:
        raise TimeLimitExceeded(f"{what} ran longer than {seconds} s (a hang?)")

    previous = signal.signal(signal.SIGALRM, _expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
