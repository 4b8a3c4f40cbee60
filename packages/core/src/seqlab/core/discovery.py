"""Installed plugins, read from entry points without importing them."""

from __future__ import annotations

import functools
import importlib
import importlib.metadata as md
from dataclasses import dataclass

from .errors import PluginError

#: entry-point group of each plugin kind
GROUPS: dict[str, str] = {
    "model": "seqlab.models",
    "architecture": "seqlab.architectures",
    "criterion": "seqlab.criterions",
    "task": "seqlab.tasks",
    "optimizer": "seqlab.optimizers",
    "lr_scheduler": "seqlab.lr_schedulers",
}

#: the distribution that ships the built-in plugins of each kind
FAMILY_DISTRIBUTION: dict[str, str] = {
    "model": "seqlab-models",
    "architecture": "seqlab-models",
    "criterion": "seqlab-criterions",
    "task": "seqlab-tasks",
    "optimizer": "seqlab-optim",
    "lr_scheduler": "seqlab-optim",
}


@dataclass(frozen=True)
class Advertised:
    """A plugin an installed distribution declares in its entry points."""

    kind: str
    name: str
    module: str
    distribution: str
    version: str


@functools.cache
def _scan() -> dict[str, dict[str, tuple[Advertised, ...]]]:
    found: dict[str, dict[str, list[Advertised]]] = {kind: {} for kind in GROUPS}
    all_eps = md.entry_points()
    for kind, group in GROUPS.items():
        for ep in all_eps.select(group=group):
            dist = ep.dist
            item = Advertised(
                kind=kind,
                name=ep.name,
                module=ep.value.split(":")[0].strip(),
                distribution=dist.metadata["Name"] if dist is not None else "?",
                version=dist.version if dist is not None else "?",
            )
            bucket = found[kind].setdefault(ep.name, [])
            if item not in bucket:
                bucket.append(item)
    return {kind: {n: tuple(v) for n, v in names.items()} for kind, names in found.items()}


def refresh() -> None:
    """Forget the cached entry points (after installing a distribution at run time)."""
    _scan.cache_clear()
    _module_owners.cache_clear()


def advertised(kind: str) -> dict[str, tuple[Advertised, ...]]:
    """Return ``name -> advertisements`` for one plugin kind, importing nothing."""
    return _scan()[kind]


@functools.cache
def _module_owners() -> dict[str, Advertised]:
    owners: dict[str, Advertised] = {}
    for names in _scan().values():
        for items in names.values():
            for item in items:
                owners.setdefault(item.module, item)
    return owners


def distribution_of_module(module: str) -> tuple[str, str] | None:
    """Return ``(distribution, version)`` of a module some entry point names, if any."""
    owners = _module_owners()
    parts = module.split(".")
    for i in range(len(parts), 0, -1):
        item = owners.get(".".join(parts[:i]))
        if item is not None:
            return item.distribution, item.version
    return None


def distribution_installed(name: str) -> bool:
    """Tell whether a distribution is installed."""
    try:
        md.distribution(name)
    except md.PackageNotFoundError:
        return False
    return True


def load(item: Advertised) -> None:
    """Import the module that registers an advertised plugin; name it in any failure."""
    try:
        importlib.import_module(item.module)
    except PluginError:
        raise
    except Exception as exc:  # a broken plugin must name itself, whatever it raised
        raise PluginError(
            f"{item.kind} '{item.name}' from {item.distribution} {item.version} failed to load: "
            f"importing {item.module} raised {type(exc).__name__}: {exc}"
        ) from exc
