"""Keep what loading created out of the garbage collector's full passes while a tool works.

Loading a model imports torch and the plugins and builds the task: about 170,000 objects
the collector tracks. The first full collection after that (one came in the first batch of
every ``seq-generate`` run) walks them all, about 50 ms at CONFIG-A sizes, though none of
them is garbage. :func:`gc.freeze` moves them to the permanent generation, which collections
skip; objects made later are collected as before. Leaving the block unfreezes them, so that a
process which goes on (a test calling the tool in-process) can still free them.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def loaded_objects_frozen() -> Iterator[int]:
    """Freeze every object the collector tracks now for the block; yield how many that is."""
    gc.freeze()
    try:
        yield gc.get_freeze_count()
    finally:
        gc.unfreeze()
