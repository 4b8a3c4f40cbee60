"""Plugin registries and the ``register_*`` decorators of the plugin contract."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from . import discovery, user_dir
from .errors import PluginError
from .suggest import did_you_mean

T = TypeVar("T")

KINDS = ("model", "architecture", "criterion", "task", "optimizer", "lr_scheduler")

#: the command-line flag that chooses a plugin of each kind
CHOICE_FLAG = {
    "model": "--arch",
    "architecture": "--arch",
    "criterion": "--criterion",
    "task": "--task",
    "optimizer": "--optimizer",
    "lr_scheduler": "--lr-scheduler",
}


@dataclass(frozen=True)
class Site:
    """Where a plugin was registered: module, file and line."""

    module: str
    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.module} ({self.file}:{self.line})"


@dataclass
class Plugin:
    """One registered plugin."""

    kind: str
    name: str
    obj: Any
    site: Site
    dataclass: type | None = None
    model: str | None = None  # architectures: the model they configure
    implicit: bool = False  # the architecture every model name provides

    def provenance(self) -> dict[str, str]:
        """Return where the plugin came from: a distribution and version, a user dir, or a module."""
        # where it was registered: for the architecture a model name provides, the model's module
        module = self.site.module
        path = user_dir.user_dir_of(module)
        if path is not None:
            return {"user_dir": path, "module": module}
        dist = discovery.distribution_of_module(module)
        if dist is not None:
            return {"distribution": dist[0], "version": dist[1], "module": module}
        return {"module": module}

    def origin(self) -> str:
        """Return the provenance as one short phrase."""
        p = self.provenance()
        if "user_dir" in p:
            return f"user dir {p['user_dir']}"
        if "distribution" in p:
            return f"{p['distribution']} {p['version']}"
        return f"module {p['module']}"


class Registry:
    """The plugins of one kind: those registered so far, and those installed but not imported."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._plugins: dict[str, Plugin] = {}

    def __contains__(self, name: str) -> bool:
        return name in self._plugins

    def registered(self) -> dict[str, Plugin]:
        """Return the plugins registered so far (imported ones only)."""
        return dict(self._plugins)

    def names(self) -> list[str]:
        """Return every choosable name, registered or installed, importing nothing."""
        names = set(self._plugins) | set(discovery.advertised(self.kind))
        if self.kind == "architecture":
            names |= set(REGISTRIES["model"].names())
        return sorted(names)

    def add(self, plugin: Plugin) -> Plugin:
        """Register a plugin; the same object twice is a no-op, two objects under one name an error."""
        existing = self._plugins.get(plugin.name)
        if existing is None:
            self._load_namesake(plugin)
            existing = self._plugins.get(plugin.name)
        if existing is not None:
            if existing.obj is plugin.obj or plugin.implicit:
                return existing
            if not existing.implicit and not _same_definition(existing, plugin):
                raise PluginError(
                    f"two different {self.kind}s are registered as '{plugin.name}': "
                    f"{existing.site} and {plugin.site}; rename one of them"
                )
        self._plugins[plugin.name] = plugin
        return plugin

    def get(self, name: str) -> Plugin:
        """Return a plugin by name, importing only the module that provides it."""
        if name not in self._plugins:
            for item in discovery.advertised(self.kind).get(name, ()):
                discovery.load(item)
        if name not in self._plugins and self.kind == "architecture":
            if name in REGISTRIES["model"].names():
                REGISTRIES["model"].get(name)  # a model name is its own architecture
        if name not in self._plugins:
            raise PluginError(self._unknown(name))
        return self._plugins[name]

    def _load_namesake(self, plugin: Plugin) -> None:
        # An installed plugin of the same name that is not imported yet must be
        # imported now, so that a clash with it is reported instead of hidden.
        module = getattr(plugin.obj, "__module__", plugin.site.module)
        for item in discovery.advertised(self.kind).get(plugin.name, ()):
            if item.module != module and item.module not in sys.modules:
                try:
                    discovery.load(item)
                except PluginError:
                    pass  # a broken namesake cannot clash; the user's plugin stands

    def _unknown(self, name: str) -> str:
        flag = CHOICE_FLAG[self.kind]
        choices = self.names()
        dist = discovery.FAMILY_DISTRIBUTION[self.kind]
        missing = not discovery.distribution_installed(dist)
        if not choices:
            return (
                f"unknown {flag} '{name}': no {self.kind} plugins are installed; "
                f"pip install {dist} (or pass --user-dir with your own)"
            )
        msg = f"unknown {flag} '{name}'{did_you_mean(name, choices)}; choices: {', '.join(choices)}"
        if missing:
            msg += f"; the built-in {self.kind}s come with {dist}: pip install {dist}"
        return msg


def _same_definition(a: Plugin, b: Plugin) -> bool:
    # The same class defined again at the same place (a module reloaded) replaces the old one.
    qa = getattr(a.obj, "__qualname__", None)
    qb = getattr(b.obj, "__qualname__", None)
    return a.site == b.site and qa == qb and qa is not None


REGISTRIES: dict[str, Registry] = {kind: Registry(kind) for kind in KINDS}


def get_plugin(kind: str, name: str) -> Plugin:
    """Return the plugin of a kind by name, loading it if it is installed but not imported."""
    return REGISTRIES[kind].get(name)


def plugin_names(kind: str) -> list[str]:
    """Return every choosable name of a kind, importing no plugin module."""
    return REGISTRIES[kind].names()


def resolve_architecture(arch: str) -> tuple[Plugin, Plugin]:
    """Return ``(architecture, model)`` for an ``--arch`` name."""
    arch_plugin = REGISTRIES["architecture"].get(arch)
    assert arch_plugin.model is not None
    try:
        model_plugin = REGISTRIES["model"].get(arch_plugin.model)
    except PluginError as exc:
        raise PluginError(
            f"--arch {arch} (registered at {arch_plugin.site}) is for model '{arch_plugin.model}', "
            f"which could not be found: {exc}"
        ) from exc
    return arch_plugin, model_plugin


def _caller_site(depth: int = 2) -> Site:
    frame = sys._getframe(depth)
    return Site(frame.f_globals.get("__name__", "?"), frame.f_code.co_filename, frame.f_lineno)


def _check_base(kind: str, obj: Any, base_name: str, site: Site) -> None:
    from . import bases

    base = getattr(bases, base_name)
    if not (isinstance(obj, type) and issubclass(obj, base)):
        raise PluginError(
            f"{kind} plugin {getattr(obj, '__name__', obj)!r} at {site} must be a subclass of "
            f"seqlab.core.{base_name}"
        )


def _class_decorator(kind: str, base_name: str) -> Callable[..., Callable[[type[T]], type[T]]]:
    def register(name: str, dataclass: type | None = None) -> Callable[[type[T]], type[T]]:
        site = _caller_site()

        def wrap(cls: type[T]) -> type[T]:
            _check_base(kind, cls, base_name, site)
            if dataclass is not None:
                cls.__dataclass__ = dataclass  # type: ignore[attr-defined]
            REGISTRIES[kind].add(Plugin(kind, name, cls, site, dataclass=dataclass))
            if kind == "model":
                REGISTRIES["architecture"].add(
                    Plugin("architecture", name, _no_preset, site, model=name, implicit=True)
                )
            return cls

        return wrap

    register.__name__ = f"register_{kind}"
    register.__doc__ = f"Register a {kind} class under ``name``, with optional option dataclass."
    return register


def _no_preset(args: Any) -> None:
    """The architecture a model name provides: the model's own defaults."""


register_model = _class_decorator("model", "BaseModel")
register_criterion = _class_decorator("criterion", "Criterion")
register_task = _class_decorator("task", "Task")
register_optimizer = _class_decorator("optimizer", "Optimizer")
register_lr_scheduler = _class_decorator("lr_scheduler", "LRScheduler")


def register_model_architecture(
    model_name: str, arch_name: str
) -> Callable[[Callable[[Any], None]], Callable[[Any], None]]:
    """Register a function that fills a model's hyper-parameters as the architecture ``arch_name``."""
    site = _caller_site()

    def wrap(fn: Callable[[Any], None]) -> Callable[[Any], None]:
        if not callable(fn):
            raise PluginError(f"architecture '{arch_name}' at {site} must be a function of args")
        if model_name not in REGISTRIES["model"]:
            # the model may live in a package that is installed but not imported yet
            for item in discovery.advertised("model").get(model_name, ()):
                discovery.load(item)
        REGISTRIES["architecture"].add(Plugin("architecture", arch_name, fn, site, model=model_name))
        return fn

    return wrap
