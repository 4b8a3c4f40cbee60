"""``--config FILE``: option values from a JSON or TOML file."""

from __future__ import annotations

import json
import os
from typing import Any

from .errors import ConfigError

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]


def normalize_key(key: str) -> str:
    """Return the option name a config key means: ``--warmup-updates`` -> ``warmup_updates``."""
    return key.lstrip("-").replace("-", "_")


def load_config_file(path: str) -> dict[str, Any]:
    """Read a config file into a flat ``{option: value}`` dict (nested tables are flattened)."""
    if not os.path.isfile(path):
        raise ConfigError(f"--config {path}: no such file")
    ext = os.path.splitext(path)[1].lower()
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
        if ext == ".json":
            data = json.loads(raw.decode("utf-8"))
        elif ext == ".toml":
            data = tomllib.loads(raw.decode("utf-8"))
        else:
            raise ConfigError(f"--config {path}: unknown file type '{ext}'; use a .json or .toml file")
    except (json.JSONDecodeError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        kind = "JSON" if ext == ".json" else "TOML"
        raise ConfigError(f"--config {path}: not valid {kind}: {exc}") from exc
    except RecursionError:  # both parsers recurse once per level of nesting
        raise ConfigError(f"--config {path}: nested too deeply to read; a config is a flat table") from None
    if not isinstance(data, dict):
        raise ConfigError(f"--config {path}: the top level must be a table of option = value")
    flat: dict[str, Any] = {}
    _flatten(data, flat, path)
    base = os.path.dirname(os.path.abspath(path))
    if "user_dir" in flat:
        dirs = flat["user_dir"] if isinstance(flat["user_dir"], list) else [flat["user_dir"]]
        flat["user_dir"] = [os.path.join(base, os.path.expanduser(str(d))) for d in dirs]
    return flat


def _flatten(data: dict[str, Any], out: dict[str, Any], path: str) -> None:
    for key, value in data.items():
        if isinstance(value, dict):
            _flatten(value, out, path)
            continue
        name = normalize_key(str(key))
        if name in out:
            raise ConfigError(f"--config {path}: '{name}' is set twice; keep one")
        out[name] = value
