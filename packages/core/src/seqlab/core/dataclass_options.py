"""Turn a plugin's option dataclass into flat command-line flags with fairseq's names."""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from typing import Any, Literal, Union, get_args, get_origin


def flag_name(field_name: str) -> str:
    """Return the flag of a dataclass field: ``warmup_updates`` -> ``--warmup-updates``."""
    return "--" + field_name.replace("_", "-")


def parse_list(item_type: type) -> Any:
    """Return an argparse type that reads ``a,b,c`` (or ``[a, b]``) into a list."""

    def convert(text: str) -> list[Any]:
        body = text.strip()
        if body[:1] in "[(" and body[-1:] in "])":
            body = body[1:-1]
        parts = [p.strip() for p in body.split(",") if p.strip()]
        return [item_type(p) for p in parts]

    convert.__name__ = f"list of {item_type.__name__}"
    return convert


def _unwrap_optional(tp: Any) -> Any:
    if get_origin(tp) in (Union, types.UnionType):
        inner = [a for a in get_args(tp) if a is not type(None)]
        if len(inner) == 1:
            return inner[0]
    return tp


def _field_default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


def field_options(dc: type) -> list[tuple[list[str], dict[str, Any]]]:
    """Return ``(flags, add_argument kwargs)`` for every public field of an option dataclass."""
    hints = typing.get_type_hints(dc)
    out: list[tuple[list[str], dict[str, Any]]] = []
    for f in dataclasses.fields(dc):
        meta = dict(f.metadata)
        if f.name.startswith("_") or meta.get("cli") is False:
            continue
        flags = [meta.get("flag", flag_name(f.name)), *meta.get("aliases", ())]
        kwargs: dict[str, Any] = {"dest": f.name, "help": meta.get("help") or " "}
        default = _field_default(f)
        tp = _unwrap_optional(hints.get(f.name, str))
        if "type" in meta:
            kwargs["type"] = meta["type"]
        elif tp is bool:
            kwargs["action"] = argparse.BooleanOptionalAction if default is True else "store_true"
        elif get_origin(tp) is Literal:
            values = get_args(tp)
            kwargs["choices"] = list(values)
            kwargs["type"] = type(values[0])
        elif get_origin(tp) in (list, tuple):
            args = [a for a in get_args(tp) if a is not Ellipsis]
            kwargs["type"] = parse_list(args[0] if args else str)
            kwargs.setdefault("metavar", "A,B,...")
        elif tp in (int, float, str):
            kwargs["type"] = tp
        if "choices" in meta:
            kwargs["choices"] = list(meta["choices"])
        if "metavar" in meta:
            kwargs["metavar"] = meta["metavar"]
        if "const" in meta:  # the flag alone means this value (fairseq's argparse_const)
            kwargs["nargs"] = "?"
            kwargs["const"] = meta["const"]
        if default is dataclasses.MISSING:
            kwargs["default"] = None
            kwargs["required_option"] = True
        else:
            kwargs["default"] = default
        out.append((flags, kwargs))
    return out


def add_dataclass_args(parser: Any, dc: type | None) -> None:
    """Add one flag per field of ``dc`` to an argparse parser or group."""
    if dc is None:
        return
    for flags, kwargs in field_options(dc):
        kwargs = dict(kwargs)
        required = kwargs.pop("required_option", False)
        action = parser.add_argument(*flags, **kwargs)
        if action is not None and required:
            action.seqlab_required = True  # checked after config files and presets are applied
