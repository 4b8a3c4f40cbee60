"""The options of every installed plugin and of ``seq-train``, as Markdown (``docs/options.md``).

Run ``python -m seqlab.cli.options_reference > docs/options.md``; a test regenerates
it and compares, so the reference cannot drift from the parsers.
"""

from __future__ import annotations

import argparse
import sys

from seqlab.core import discovery
from seqlab.core.dataclass_options import add_dataclass_args
from seqlab.core.registry import KINDS, get_plugin, resolve_architecture
from seqlab.core.trainer_options import TRAINER_OPTION_GROUPS

#: the distributions of this repository whose plugins the reference documents
BUILT_IN = ("seqlab-models", "seqlab-criterions", "seqlab-tasks", "seqlab-optim")

TITLES = {
    "model": "Models",
    "architecture": "Architectures",
    "criterion": "Criterions",
    "task": "Tasks",
    "optimizer": "Optimizers",
    "lr_scheduler": "Learning-rate schedulers",
}


def _rows(add_args: object) -> list[str]:
    parser = argparse.ArgumentParser(add_help=False)
    if callable(add_args):
        add_args(parser)
    rows = []
    for action in parser._actions:
        flags = ", ".join(f"`{f}`" for f in action.option_strings) or f"`{action.dest}` (positional)"
        default = "" if action.default in (None, argparse.SUPPRESS) else f"`{action.default}`"
        text = " ".join((action.help or "").split()).replace("|", "\\|")
        if action.choices:
            text = text.rstrip(".") + f"; one of: {', '.join(map(str, action.choices))}"
        rows.append(f"| {flags} | {default} | {text} |")
    return rows


def _table(rows: list[str]) -> list[str]:
    if not rows:
        return ["No options of its own.", ""]
    return ["| flag | default | meaning |", "|---|---|---|", *rows, ""]


def names_of(kind: str) -> list[str]:
    """The names of a kind that the built-in distributions provide."""
    return sorted(
        name
        for name, items in discovery.advertised(kind).items()
        if any(item.distribution in BUILT_IN for item in items)
    )


def reference() -> str:
    """Return the Markdown reference of every installed plugin's options and seq-train's own."""
    out = [
        "# Options reference",
        "",
        "Generated from the parsers by `python -m seqlab.cli.options_reference`; do not edit by hand.",
        "",
    ]
    out += ["## seq-train", ""]
    for title, options in TRAINER_OPTION_GROUPS:
        out += [f"### {title}", ""]
        out += _table(_rows(lambda p, o=options: add_dataclass_args(p, o)))
    for kind in KINDS:
        names = [n for n in names_of(kind) if kind != "architecture" or n not in names_of("model")]
        out += [f"## {TITLES[kind]}", ""]
        if kind == "architecture":
            models = ", ".join(
                f"`{m}`" for m in sorted(discovery.advertised("model")) if m in names_of("model")
            )
            out += [f"Every model name is an architecture too ({models}); the named presets:", ""]
        for name in names:
            if kind == "architecture":
                arch, model = resolve_architecture(name)
                doc = (arch.obj.__doc__ or "").strip().splitlines()
                line = f"- `{name}` (model `{model.name}`, {arch.origin()})"
                out.append(line + (f": {doc[0]}" if doc else ""))
                continue
            plugin = get_plugin(kind, name)
            doc = (plugin.obj.__doc__ or "").strip().splitlines()
            out += [f"### {name}", "", f"From {plugin.origin()}." + (f" {doc[0]}" if doc else ""), ""]
            out += _table(_rows(getattr(plugin.obj, "add_args", None)))
        if kind == "architecture":
            out.append("")
    return "\n".join(out).rstrip() + "\n"


if __name__ == "__main__":
    sys.stdout.write(reference())
