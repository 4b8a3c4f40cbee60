"""``check_registration``: a plugin registers idempotently, from the module its entry point names."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from .. import discovery, registry
from ..registry import KINDS, Plugin, get_plugin
from .failures import Check
from .isolation import isolated_plugins


def check_registration(kind: str, name: str, installed: bool | None = None) -> Plugin:
    """Check that plugin ``name`` of ``kind`` is found, re-registers as a no-op and documents its options.

    When an installed distribution advertises the plugin (always when ``installed`` is
    True), importing the entry point's module afresh must register it again, at the same
    place. Returns the registered plugin.
    """
    check = Check("check_registration", name)
    check.expect(kind in KINDS, f"unknown kind {kind!r}; one of {', '.join(KINDS)}")
    with check.step(f"finding {kind} '{name}'"):
        plugin = get_plugin(kind, name)
    _check_reregistering_is_a_no_op(check, plugin)
    _check_documented_options(check, plugin)
    advertised = discovery.advertised(kind).get(name, ())
    if installed:
        check.expect(
            advertised,
            f"no installed distribution declares it: add it to the pyproject.toml of its package under "
            f'[project.entry-points."{discovery.GROUPS[kind]}"] as {name} = "<module>" and reinstall',
        )
    for item in advertised:
        _check_entry_point(check, plugin, item)
    return plugin


def _check_reregistering_is_a_no_op(check: Check, plugin: Plugin) -> None:
    with isolated_plugins():
        with check.step("registering the same object again"):
            if plugin.kind == "architecture":
                assert plugin.model is not None
                returned = registry.register_model_architecture(plugin.model, plugin.name)(plugin.obj)
            else:
                decorator = getattr(registry, f"register_{plugin.kind}")
                returned = decorator(plugin.name, dataclass=plugin.dataclass)(plugin.obj)
        check.expect(returned is plugin.obj, "the register decorator did not return the object unchanged")
        again = registry.REGISTRIES[plugin.kind].registered().get(plugin.name)
        check.expect(
            again is not None and again.obj is plugin.obj and again.site == plugin.site,
            lambda: f"registering the same object again replaced the registration at {plugin.site}",
        )


def _check_documented_options(check: Check, plugin: Plugin) -> None:
    if plugin.kind == "architecture":
        return  # an architecture's options are its model's
    add_args = getattr(plugin.obj, "add_args", None)
    if not callable(add_args):
        return
    parser = argparse.ArgumentParser(add_help=False)
    with check.step("adding its options to a parser (add_args)"):
        add_args(parser)
    undocumented = [
        a.option_strings[0] for a in parser._actions if a.option_strings and not (a.help or "").strip()
    ]
    check.expect(
        not undocumented,
        lambda: (
            f"options without help text: {', '.join(undocumented)}; give each dataclass field "
            'metadata={"help": "..."} so that seq-plugins describe can show it'
        ),
    )


def _check_entry_point(check: Check, plugin: Plugin, item: discovery.Advertised) -> None:
    where = f'entry point {item.name} = "{item.module}" of {item.distribution} {item.version}'
    with isolated_plugins(), _fresh_import(item.module):
        registry.REGISTRIES[plugin.kind]._plugins.pop(plugin.name, None)
        with check.step(f"importing the module of its {where}"):
            importlib.import_module(item.module)
        fresh = registry.REGISTRIES[plugin.kind].registered().get(plugin.name)
        check.expect(
            fresh is not None and not fresh.implicit,
            f"importing {item.module} (its {where}) does not register {plugin.kind} '{plugin.name}'; "
            f"point the entry point at the module that registers it ({plugin.site.module})",
        )
        assert fresh is not None
        check.expect(
            fresh.site == plugin.site,
            f"importing {item.module} (its {where}) registers a different {plugin.kind} "
            f"'{plugin.name}', at {fresh.site}, not the one at {plugin.site}",
        )


@contextmanager
def _fresh_import(module: str) -> Iterator[None]:
    """Let ``module`` and its submodules be imported anew inside the block; restore them after."""
    prefix = module + "."
    saved = {k: m for k, m in sys.modules.items() if k == module or k.startswith(prefix)}
    parent_name, _, child = module.rpartition(".")
    parent = sys.modules.get(parent_name) if parent_name else None
    missing = object()
    parent_attr = getattr(parent, child, missing) if parent is not None else missing
    for key in saved:
        del sys.modules[key]
    try:
        yield
    finally:
        for key in [k for k in sys.modules if k == module or k.startswith(prefix)]:
            del sys.modules[key]
        sys.modules.update(saved)
        if parent is not None:
            if parent_attr is missing:
                if hasattr(parent, child):
                    delattr(parent, child)
            else:
                setattr(parent, child, parent_attr)
