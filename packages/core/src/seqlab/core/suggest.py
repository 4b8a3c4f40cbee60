"""Closest-match suggestions for misspelt names and flags."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def closest(word: str, choices: Iterable[str], n: int = 3) -> list[str]:
    """Return up to ``n`` choices that look like ``word``, best first."""
    pool = sorted(set(choices))
    found = difflib.get_close_matches(word, pool, n=n, cutoff=0.6)
    if not found:
        lowered = word.lower().replace("-", "_")
        found = [c for c in pool if lowered in c.lower().replace("-", "_")][:n]
    return found


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Return ``" (did you mean X?)"`` for the closest matches, or an empty string."""
    found = closest(word, choices)
    if not found:
        return ""
    if len(found) == 1:
        return f" (did you mean {found[0]}?)"
    return " (did you mean " + ", ".join(found[:-1]) + f" or {found[-1]}?)"
