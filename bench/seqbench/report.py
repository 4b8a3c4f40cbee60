"""Progress lines on stderr: every step named, with the time since the bench started."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

_START = time.perf_counter()


def say(message: str) -> None:
    """Print one progress line on stderr, prefixed with the elapsed time."""
    elapsed = time.perf_counter() - _START
    print(f"[bench {int(elapsed) // 60:3d}:{elapsed % 60:04.1f}] {message}", file=sys.stderr, flush=True)


@contextmanager
def step(name: str) -> Iterator[None]:
    """Name a step when it starts and say how long it took when it ends."""
    say(f"{name} ...")
    start = time.perf_counter()
    yield
    say(f"{name}: done in {time.perf_counter() - start:.1f} s")
