"""Which seqlab distributions are installed, and their versions (recorded in checkpoints)."""

from __future__ import annotations

import functools
import importlib.metadata as md


@functools.cache
def installed_versions() -> dict[str, str]:
    """Return ``{distribution: version}`` for every installed seqlab distribution."""
    found: dict[str, str] = {}
    for dist in md.distributions():
        name = dist.metadata["Name"] or ""
        if name.lower().startswith("seqlab"):
            found[name] = dist.version
    return dict(sorted(found.items()))
