"""Argument types for task options that fairseq spells as values (``--left-pad-source False``)."""

from __future__ import annotations

import argparse

_TRUE = {"true", "1", "yes", "y", "on"}
_FALSE = {"false", "0", "no", "n", "off"}


def str_to_bool(text: str | bool) -> bool:
    """Read ``True``/``False`` (and yes/no, 1/0) as fairseq's boolean options accept them."""
    if isinstance(text, bool):
        return text
    value = text.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise argparse.ArgumentTypeError(f"expected True or False, got {text!r}")


str_to_bool.__name__ = "bool"
