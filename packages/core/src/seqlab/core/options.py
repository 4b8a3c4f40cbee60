"""Two-stage option parsing: plugin choices first, then the chosen plugins' flags.

Precedence, lowest first: plugin default < architecture preset < ``--config``
file < flags typed on the command line. Every resolved value records its source.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .config_file import load_config_file
from .errors import ConfigError
from .registry import CHOICE_FLAG, Plugin, get_plugin, plugin_names, resolve_architecture
from .suggest import did_you_mean
from .user_dir import import_user_dirs

COMMAND_LINE = "command line"


@dataclass(frozen=True)
class Choice:
    """A plugin a tool chooses by flag, e.g. ``--arch``."""

    kind: str
    dest: str
    default: str | None = None
    required: bool = False
    help: str = ""

    @property
    def flags(self) -> tuple[str, ...]:
        """The flags that choose it."""
        return ("--arch", "-a") if self.kind == "architecture" else (CHOICE_FLAG[self.kind],)


TASK = Choice("task", "task", "translation", help="the task: data, model inputs and metrics")
ARCH = Choice(
    "architecture", "arch", None, required=True, help="model architecture (a model name or a preset)"
)
CRITERION = Choice("criterion", "criterion", "cross_entropy", help="the training loss")
OPTIMIZER = Choice("optimizer", "optimizer", "adam", help="the optimizer")
LR_SCHEDULER = Choice("lr_scheduler", "lr_scheduler", "fixed", help="the learning-rate schedule")


@dataclass
class ToolSpec:
    """What a command-line tool parses: its plugin choices and its own flags."""

    prog: str
    description: str
    choices: tuple[Choice, ...] = ()
    add_args: Callable[[argparse.ArgumentParser], None] | None = None


@dataclass
class ResolvedConfig:
    """The resolved flat options, where each value came from, and the chosen plugins.

    ``plugins`` maps each choice's dest (``task``, ``arch``, ...) to its plugin, plus ``model``
    for the model the chosen architecture configures.
    """

    args: argparse.Namespace
    sources: dict[str, str]
    plugins: dict[str, Plugin] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return the options as plain data (JSON types only), for checkpoints."""
        return {k: _plain(v) for k, v in sorted(vars(self.args).items())}

    def format(self) -> str:
        """Return every resolved value with its source, one per line."""
        rows = [
            (k, json.dumps(_plain(v)), self.sources.get(k, "?")) for k, v in sorted(vars(self.args).items())
        ]
        width_k = max((len(r[0]) for r in rows), default=0)
        width_v = min(max((len(r[1]) for r in rows), default=0), 40)
        lines = ["# option = value  # source"]
        lines += [f"{k:<{width_k}} = {v:<{width_v}}  # {s}" for k, v, s in rows]
        return "\n".join(lines)


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are exceptions, not exits."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise ConfigError(message)


class _HelpFormatter(argparse.HelpFormatter):
    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if (
            "%(default)" not in text
            and action.default not in (None, False, argparse.SUPPRESS)
            and action.option_strings
        ):
            text += " (default: %(default)s)"
        return text


class _PluginGroup:
    """An argument group for one plugin; a flag another plugin already defined is shared."""

    def __init__(
        self, parser: argparse.ArgumentParser, title: str, owners: dict[str, str], owner: str
    ) -> None:
        self._parser = parser
        self._group = parser.add_argument_group(title)
        self._owners = owners
        self._owner = owner

    def add_argument(self, *flags: str, **kwargs: Any) -> argparse.Action:
        """Add a flag unless another plugin defined it already (then both share it)."""
        for f in flags:
            if f in self._parser._option_string_actions:
                return self._parser._option_string_actions[f]
        if flags and not flags[0].startswith("-"):
            for action in self._parser._actions:
                if not action.option_strings and action.dest == flags[0]:
                    return action
        action = self._group.add_argument(*flags, **kwargs)
        self._owners.setdefault(action.dest, self._owner)
        return action

    def __getattr__(self, name: str) -> Any:
        return getattr(self._group, name)


def add_common_args(parser: argparse.ArgumentParser) -> None:
    """Add the flags every tool has: ``--user-dir``, ``--config``, ``--print-config``, ``--debug``."""
    parser.add_argument(
        "--user-dir",
        action="append",
        metavar="DIR",
        default=None,
        help="a folder of your own plugins, imported as a package (repeatable)",
    )
    parser.add_argument(
        "--config", metavar="FILE", default=None, help="read option values from a JSON or TOML file"
    )
    parser.add_argument(
        "--print-config",
        action="store_true",
        help="print every resolved option with where it came from, then exit",
    )
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")


def _add_choice(parser: Any, choice: Choice, default: str | None) -> None:
    help_text = choice.help + ("" if choice.required else "")
    parser.add_argument(*choice.flags, dest=choice.dest, default=default, metavar="NAME", help=help_text)


def _choose(
    spec: ToolSpec, known: argparse.Namespace, config: dict[str, Any], helping: bool = False
) -> dict[str, tuple[Choice, Plugin, Plugin | None]]:
    chosen: dict[str, tuple[Choice, Plugin, Plugin | None]] = {}
    for choice in spec.choices:
        name = getattr(known, choice.dest, None) or config.get(choice.dest) or choice.default
        if name is None:
            # --help without a required choice shows the common options; the plugin's come once chosen
            if choice.required and not helping:
                names = ", ".join(plugin_names(choice.kind)) or "none installed"
                raise ConfigError(f"{choice.flags[0]} is required; choices: {names}")
            continue
        if choice.kind == "architecture":
            arch, model = resolve_architecture(str(name))
            chosen[choice.dest] = (choice, arch, model)
        else:
            chosen[choice.dest] = (choice, get_plugin(choice.kind, str(name)), None)
    return chosen


def build_parser(
    spec: ToolSpec, chosen: dict[str, tuple[Choice, Plugin, Plugin | None]], owners: dict[str, str]
) -> argparse.ArgumentParser:
    """Return the full parser: common flags, the tool's own, and each chosen plugin's."""
    parser = _Parser(
        prog=spec.prog, description=spec.description, allow_abbrev=False, formatter_class=_HelpFormatter
    )
    add_common_args(parser)
    choose = parser.add_argument_group("plugin choices")
    for choice in spec.choices:
        _add_choice(choose, choice, choice.default)
    for action in parser._actions:
        owners.setdefault(action.dest, spec.prog)
    if spec.add_args is not None:
        spec.add_args(parser)
        for action in parser._actions:
            owners.setdefault(action.dest, spec.prog)
    for _choice, plugin, model in chosen.values():
        target = model if model is not None else plugin
        label = f"{target.kind} {target.name}"
        group = _PluginGroup(parser, f"{label} options ({target.origin()})", owners, label)
        add_args = getattr(target.obj, "add_args", None)
        if callable(add_args):
            add_args(group)
    return parser


def parse(
    spec: ToolSpec, argv: Sequence[str], given: dict[str, Any] | None = None, given_by: str = ""
) -> ResolvedConfig:
    """Parse a tool's command line into a :class:`ResolvedConfig`.

    ``-h`` prints help (with the chosen plugins' options) and ``--print-config``
    prints the resolved values with their sources; both then exit 0. ``given`` are values
    from another source (named ``given_by``, e.g. a fairseq checkpoint), checked and converted
    as a ``--config`` file's are, ranking between a config file and the command line.
    """
    argv = list(argv)
    pre = _Parser(prog=spec.prog, add_help=False, allow_abbrev=False)
    add_common_args(pre)
    for choice in spec.choices:
        _add_choice(pre, choice, None)
    known, _ = pre.parse_known_args(argv)
    config = load_config_file(known.config) if known.config else {}
    user_dirs = list(config.get("user_dir") or []) + list(known.user_dir or [])
    import_user_dirs(user_dirs)

    owners: dict[str, str] = {}
    helping = "-h" in argv or "--help" in argv
    chosen = _choose(spec, known, config, helping)
    parser = build_parser(spec, chosen, owners)
    if helping:
        missing = [c.flags[0] for c in spec.choices if c.dest not in chosen]
        if missing:
            parser.epilog = f"Add {' and '.join(missing)} NAME to see that plugin's options too."
        parser.print_help()
        raise SystemExit(0)

    defaults = {
        a.dest: a.default for a in parser._actions if a.dest != "help" and a.default is not argparse.SUPPRESS
    }
    for action in parser._actions:
        action.default = argparse.SUPPRESS
    typed, extras = parser.parse_known_args(argv)
    _reject_extras(parser, extras)
    config_values = _convert_config(parser, config, f"--config {known.config}", defaults)
    given_values = _convert_config(parser, given or {}, given_by, defaults)

    ns = argparse.Namespace()
    sources: dict[str, str] = {}
    for key, value in config_values.items():
        setattr(ns, key, value)
        sources[key] = f"config {known.config}"
    for key, value in given_values.items():
        setattr(ns, key, value)
        sources[key] = given_by
    for key, value in vars(typed).items():
        setattr(ns, key, value)
        sources[key] = COMMAND_LINE
    if user_dirs:
        ns.user_dir = user_dirs
    for choice, plugin, _ in chosen.values():
        if not hasattr(ns, choice.dest):
            setattr(ns, choice.dest, plugin.name)
            sources[choice.dest] = f"default ({spec.prog})"
    arch = chosen.get("arch")
    if arch is not None:
        _apply_preset(ns, sources, arch[1])
    for key, value in defaults.items():
        if not hasattr(ns, key):
            setattr(ns, key, value)
            sources[key] = f"default ({owners.get(key, spec.prog)})"
    _check_required(parser, ns, owners)
    plugins = {dest: plugin for dest, (_, plugin, _) in chosen.items()}
    for _, _, model in chosen.values():
        if model is not None:
            plugins["model"] = model
    resolved = ResolvedConfig(ns, sources, plugins)
    if ns.print_config:
        print(resolved.format())
        raise SystemExit(0)
    return resolved


def _apply_preset(ns: argparse.Namespace, sources: dict[str, str], arch: Plugin) -> None:
    before = dict(vars(ns))
    arch.obj(ns)
    for key, value in list(vars(ns).items()):
        if key not in before:
            sources[key] = f"arch {arch.name}"
        elif value is not before[key]:
            setattr(ns, key, before[key])  # a preset never overrides a typed or configured value


def _reject_extras(parser: argparse.ArgumentParser, extras: list[str]) -> None:
    if not extras:
        return
    flags = [s for s in parser._option_string_actions if s.startswith("--") and s != "--help"]
    for token in extras:
        if token.startswith("-"):
            flag = token.split("=", 1)[0]
            raise ConfigError(
                f"unknown option {flag}{did_you_mean(flag, flags)}; "
                f"see {parser.prog} --help (a plugin's options appear once it is chosen)"
            )
    raise ConfigError(f"unexpected argument '{extras[0]}'; see {parser.prog} --help")


def _convert_config(
    parser: argparse.ArgumentParser, config: dict[str, Any], origin: str, defaults: dict[str, Any]
) -> dict[str, Any]:
    actions = {a.dest: a for a in parser._actions if a.dest not in ("help", "config", "print_config")}
    out: dict[str, Any] = {}
    for key, value in config.items():
        action = actions.get(key)
        if action is None:
            raise ConfigError(f"{origin}: unknown option '{key}'{did_you_mean(key, actions)}")
        if value is None and defaults.get(key) is not None:
            raise ConfigError(
                f"{origin}: '{key}' is null but needs a value (its default is "
                f"{defaults[key]!r}); leave the key out to use the default"
            )
        out[key] = _convert_value(action, value, origin, key)
    return out


_SCALAR_KINDS: dict[Any, str] = {int: "an integer", float: "a number", str: "a string"}


def _expected_kind(convert: Any) -> str | None:
    """What a config value must be for a flag of this type; None where only the plugin can tell."""
    if getattr(convert, "__name__", "").startswith("list of"):
        return "a list"
    return _SCALAR_KINDS.get(convert)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _convert_value(action: argparse.Action, value: Any, origin: str, key: str) -> Any:
    where = f"{origin}: '{key}'"
    if action.nargs == 0:  # a switch
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false, not {value!r}")
        return value
    if isinstance(action, argparse.BooleanOptionalAction):
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false, not {value!r}")
        return value
    convert = action.type if callable(action.type) else None
    try:
        if isinstance(value, list) and action.nargs in ("+", "*") or isinstance(action.nargs, int):
            result: Any = [convert(str(v)) if convert and isinstance(v, str) else v for v in value]
        elif isinstance(action, argparse._AppendAction):
            items = value if isinstance(value, list) else [value]
            result = [convert(v) if convert and isinstance(v, str) else v for v in items]
        elif convert is not None and isinstance(value, str):
            result = convert(value)
        elif _expected_kind(convert) == "a list" and (isinstance(value, list) or _is_number(value)):
            items = value if isinstance(value, list) else [value]
            result = convert(",".join(str(v) for v in items))
        elif convert in (int, float) and _is_number(value):
            if convert is int and isinstance(value, float) and not value.is_integer():
                raise ValueError("not a whole number")  # int() would silently drop the fraction
            result = convert(value)
        elif value is not None and _expected_kind(convert) is not None:
            raise ConfigError(f"{where} must be {_expected_kind(convert)}, not {value!r}")
        else:
            result = value
    except (TypeError, ValueError, OverflowError) as exc:
        raise ConfigError(f"{where}: invalid value {value!r} ({exc})") from exc
    if action.choices is not None and result not in action.choices:
        choices = ", ".join(map(str, action.choices))
        raise ConfigError(f"{where}: {result!r} is not one of {choices}")
    return result


def _check_required(parser: argparse.ArgumentParser, ns: argparse.Namespace, owners: dict[str, str]) -> None:
    for action in parser._actions:
        if getattr(action, "seqlab_required", False) and getattr(ns, action.dest, None) is None:
            raise ConfigError(
                f"{action.option_strings[0]} is required by {owners.get(action.dest, parser.prog)}"
            )


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return str(value)
