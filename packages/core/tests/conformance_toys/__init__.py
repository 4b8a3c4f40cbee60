"""Toy plugins for the conformance kit's tests: one that keeps each contract, and ones that break it.

Imported as a user dir, so that a process started with the spawn method can import it
again by path. Each broken plugin breaks exactly one thing, named in its docstring.
"""

from . import criterions, models, optimizers, schedulers, tasks  # noqa: F401
