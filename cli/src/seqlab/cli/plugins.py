"""``seq-plugins``: list the installed plugins, describe one plugin's options, or scaffold a new one."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from seqlab.core import discovery
from seqlab.core.entry import run_tool
from seqlab.core.errors import ConfigError, PluginError
from seqlab.core.registry import KINDS, REGISTRIES, get_plugin, resolve_architecture
from seqlab.core.suggest import did_you_mean
from seqlab.core.user_dir import import_user_dirs

from . import scaffold

PROG = "seq-plugins"
PLURAL = {k: ("lr_schedulers" if k == "lr_scheduler" else k + "s") for k in KINDS}


class _Parser(argparse.ArgumentParser):
    """Parse errors become one-line :class:`ConfigError` messages (subcommand parsers share the class)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise ConfigError(f"{message}; see {PROG} --help")


def build_parser() -> argparse.ArgumentParser:
    """Return the parser of ``seq-plugins``."""
    parser = _Parser(
        prog=PROG,
        description="List every installed seqlab plugin with the distribution that provides it "
        "(importing none of them), describe one plugin's options, or scaffold a new plugin package.",
    )
    parser.add_argument(
        "--user-dir", action="append", metavar="DIR", help="also list the plugins of this folder"
    )
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    ls = sub.add_parser("list", help="list plugins (the default)")
    ls.add_argument("--kind", choices=KINDS, help="only this kind")
    desc = sub.add_parser("describe", help="print a plugin's options with defaults and help")
    desc.add_argument("name", help="the plugin's registered name")
    desc.add_argument("--kind", choices=KINDS, help="the kind, when several kinds share the name")
    new = sub.add_parser(
        "new",
        help="scaffold an installable plugin package in the current folder",
        description="Create <DIST>/ in the current folder: a namespace package with its entry points, "
        "a working minimal plugin and a test running seqlab-core's conformance kit on it.",
    )
    new.add_argument(
        "new_kind", metavar="KIND", choices=list(scaffold.FAMILIES), help=", ".join(scaffold.FAMILIES)
    )
    new.add_argument("new_name", metavar="NAME", help="the plugin's registered name (a Python identifier)")
    new.add_argument("--dist", help="the distribution name (default: seqlab-<family>-<name>)")
    new.add_argument(
        "--force", action="store_true", help="write into an existing folder, overwriting the files it creates"
    )
    for p in (ls, desc):
        p.add_argument(
            "--user-dir", action="append", metavar="DIR", dest="sub_user_dir", help=argparse.SUPPRESS
        )
    return parser


def list_plugins(kinds: Sequence[str]) -> str:
    """Return the listing of every plugin of ``kinds``, importing no installed plugin module."""
    lines: list[str] = []
    for kind in kinds:
        registry = REGISTRIES[kind]
        installed = discovery.advertised(kind)
        loaded = registry.registered()
        names = sorted(set(installed) | set(loaded))
        lines.append(f"{PLURAL[kind]}:")
        if not names:
            lines.append(f"  (none installed: pip install {discovery.FAMILY_DISTRIBUTION[kind]})")
        width = max((len(n) for n in names), default=0)
        for name in names:
            if name in loaded and (name not in installed or _from_user_dir(loaded[name])):
                origin = loaded[name].origin()
            else:
                origins = sorted({f"{a.distribution} {a.version}" for a in installed[name]})
                origin = ", ".join(origins)
            lines.append(f"  {name:<{width}}  {origin}")
    return "\n".join(lines)


def _from_user_dir(plugin: object) -> bool:
    return "user_dir" in plugin.provenance()  # type: ignore[attr-defined]


def describe(name: str, kind: str | None) -> str:
    """Return a plugin's origin and options (imports only that plugin's module)."""
    kinds = [kind] if kind else [k for k in KINDS if name in REGISTRIES[k].names()]
    if not kinds:
        every = {n for k in KINDS for n in REGISTRIES[k].names()}
        raise PluginError(f"no plugin is named '{name}'{did_you_mean(name, every)}; run {PROG} to list them")
    if "model" in kinds and "architecture" in kinds:
        kinds.remove("architecture")  # a model's own name as an arch adds nothing to describe
    blocks = [_describe_one(name, k) for k in kinds]
    return "\n\n".join(blocks)


def _describe_one(name: str, kind: str) -> str:
    if kind == "architecture":
        arch, model = resolve_architecture(name)
        head = [f"architecture {name}: a preset of model '{model.name}'", f"  from {arch.origin()}"]
        head.append(f"  defined at {arch.site}")
        target = model
    else:
        target = get_plugin(kind, name)
        head = [f"{kind} {name}", f"  from {target.origin()}", f"  defined at {target.site}"]
    doc = (getattr(target.obj, "__doc__", None) or "").strip().splitlines()
    if doc:
        head.append(f"  {doc[0]}")
    parser = argparse.ArgumentParser(add_help=False)
    add_args = getattr(target.obj, "add_args", None)
    if callable(add_args):
        add_args(parser)
    rows = [_option_row(a) for a in parser._actions]
    head.append("options:" if rows else "options: (none)")
    return "\n".join(head + rows)


def _option_row(action: argparse.Action) -> str:
    flags = ", ".join(action.option_strings) or action.dest
    default = "" if action.default in (None, argparse.SUPPRESS) else f" (default: {action.default})"
    choices = f" {{{', '.join(map(str, action.choices))}}}" if action.choices else ""
    text = (action.help or "").strip()
    return f"  {flags}{choices}{default}\n      {text}" if text else f"  {flags}{choices}{default}"


def _reject_unknown_flags(parser: argparse.ArgumentParser, argv: list[str]) -> None:
    """Name a misspelt ``--flag`` itself; argparse would complain about the value after it instead."""
    parsers = [parser]
    for action in parser._subparsers._group_actions if parser._subparsers else []:
        parsers += list(getattr(action, "choices", {}).values())
    known = {flag for p in parsers for flag in p._option_string_actions if flag.startswith("--")}
    for token in argv:
        if token == "--":
            return
        flag = token.split("=", 1)[0]
        if flag.startswith("--") and flag not in known:
            raise ConfigError(f"unknown option {flag}{did_you_mean(flag, known)}; see {PROG} --help")


def _main(argv: list[str]) -> int:
    parser = build_parser()
    _reject_unknown_flags(parser, argv)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    import_user_dirs((args.user_dir or []) + (getattr(args, "sub_user_dir", None) or []))
    if args.command == "new":
        return _new(args.new_kind, args.new_name, args.dist, args.force)
    if args.command == "describe":
        print(describe(args.name, args.kind))
        return 0
    kind = getattr(args, "kind", None)
    print(list_plugins([kind] if kind else list(KINDS)))
    return 0


def _new(kind: str, name: str, dist: str | None, force: bool) -> int:
    plan = scaffold.plan(kind, name, dist)
    target = scaffold.write(plan, os.getcwd(), force=force)
    rel = os.path.relpath(target)
    print(f"created {rel}/ with the {kind} '{name}' ({plan.module}):")
    for path in plan.files():
        print(f"  {rel}/{path}")
    print(f"next: pip install -e '{rel}[test]' && pytest {rel}/tests")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``seq-plugins``."""
    return run_tool(PROG, _main, argv)


if __name__ == "__main__":
    sys.exit(main())
