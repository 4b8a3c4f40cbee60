"""Closest-match suggestions for misspelt names and flags."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def closest(word: str, choices: Iterable[str], n: int = 3) -> list[str]:
    """Return up to ``n`` choices that look like ``word``, best first."""
    pool = sorted(set(choices))
    scored = sorted(((difflib.SequenceMatcher(None, word, c).ratio(), c) for c in pool), reverse=True)
    # keep only matches about as good as the best, so one clear winner is named alone
    found = [c for score, c in scored[:n] if score >= 0.6 and score >= scored[0][0] - 0.08] if scored else []
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
