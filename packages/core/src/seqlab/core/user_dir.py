"""``--user-dir``: a folder of the user's plugins, imported as a package."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import sys
import traceback
from collections.abc import Iterable
from types import ModuleType

from .errors import PluginError

#: set for child processes: the user dirs this process imported, in order
ENV_VAR = "SEQLAB_USER_DIRS"

_owners: dict[str, str] = {}  # module name -> real path of the user dir


def module_name_for(path: str) -> str:
    """Return the module name a user dir is imported under; every process derives the same."""
    real = os.path.realpath(path)
    stem = re.sub(r"\W", "_", os.path.basename(real)) or "root"
    # fsencode, not encode("utf-8"): a folder name that is not UTF-8 holds lone surrogates
    digest = hashlib.sha1(os.fsencode(real)).hexdigest()[:10]
    return f"seqlab_user_{stem}_{digest}"


def import_user_dir(path: str) -> ModuleType:
    """Import a user dir as a package without touching ``sys.path``; a no-op the second time."""
    if "\x00" in path:  # os.path functions raise ValueError on it
        raise PluginError(f"--user-dir {path!r}: a path cannot contain a NUL character; pass a folder's path")
    real = os.path.realpath(os.path.expanduser(path))
    if not os.path.isdir(real):
        raise PluginError(f"--user-dir {path}: no such directory; pass a folder holding an __init__.py")
    init = os.path.join(real, "__init__.py")
    if not os.path.isfile(init):
        raise PluginError(
            f"--user-dir {path}: {init} is missing; a user dir is imported as a package, "
            "so add an __init__.py that imports your plugin modules"
        )
    name = module_name_for(real)
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, init, submodule_search_locations=[real])
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    _owners[name] = real
    try:
        spec.loader.exec_module(module)
    except PluginError:
        _forget(name)
        raise
    except Exception as exc:  # the user's code may raise anything: report where
        _forget(name)
        raise PluginError(
            f"--user-dir {path}: importing it raised {type(exc).__name__}: {exc}{_where(exc, real)}"
        ) from exc
    _export_env()
    return module


def import_user_dirs(paths: Iterable[str] | None) -> list[ModuleType]:
    """Import several user dirs in order."""
    return [import_user_dir(p) for p in (paths or [])]


def import_user_dirs_from_env() -> list[ModuleType]:
    """Import the user dirs a parent process recorded in ``SEQLAB_USER_DIRS``."""
    raw = os.environ.get(ENV_VAR, "")
    return import_user_dirs([p for p in raw.split(os.pathsep) if p])


def user_dir_of(module: str) -> str | None:
    """Return the real path of the user dir a module belongs to, if any."""
    for name, real in _owners.items():
        if module == name or module.startswith(name + "."):
            return real
    return None


def imported_user_dirs() -> list[str]:
    """Return the real paths of the user dirs imported so far, in order."""
    return list(_owners.values())


def _forget(name: str) -> None:
    _owners.pop(name, None)
    for key in [k for k in sys.modules if k == name or k.startswith(name + ".")]:
        del sys.modules[key]


def _export_env() -> None:
    os.environ[ENV_VAR] = os.pathsep.join(_owners.values())


def _where(exc: BaseException, root: str) -> str:
    if isinstance(exc, SyntaxError) and exc.filename:
        return f" ({exc.filename}:{exc.lineno})"
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.startswith(root)]
    if frames:
        return f" ({frames[-1].filename}:{frames[-1].lineno})"
    return ""
