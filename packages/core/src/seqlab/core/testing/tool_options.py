"""Resolve a plugin's options the way ``seq-train`` does, for the conformance checks."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from ..options import Choice, ToolSpec, parse
from ..train_cli import add_trainer_args
from .failures import Check


def resolve_options(check: Check, choices: Sequence[Choice], argv: Sequence[str]) -> argparse.Namespace:
    """Return the flat args of ``argv``: plugin defaults < arch preset < flags, trainer flags included.

    The trainer's own flags (``--lr``, ``--max-update``, ...) are there because plugins read
    them from the same namespace under ``seq-train``.
    """
    spec = ToolSpec("seq-train", check.label, tuple(choices), add_args=add_trainer_args)
    with check.step(f"resolving the options {' '.join(argv)}"):
        return parse(spec, list(argv)).args


def has_flag(argv: Sequence[str], flag: str) -> bool:
    """Tell whether ``argv`` sets ``flag`` (as ``--flag V`` or ``--flag=V``)."""
    return any(a == flag or a.startswith(flag + "=") for a in argv)
