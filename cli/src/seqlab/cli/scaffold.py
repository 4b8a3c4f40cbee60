"""``seq-plugins new``: scaffold a plugin package of one's own, installable next to the built-ins.

The package is a namespace package (``src/seqlab/<family>/<name>.py``) with its entry points,
a working minimal plugin and a test that runs seqlab-core's conformance kit on it. The
templates live in ``scaffold_templates/`` beside this module.
"""

from __future__ import annotations

import importlib.metadata as md
import importlib.resources
import importlib.util
import keyword
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from string import Template

import seqlab.core
from seqlab.core import ConfigError, discovery

#: the kinds ``seq-plugins new`` scaffolds, and the family package each belongs to
FAMILIES = {
    "model": "models",
    "criterion": "criterions",
    "task": "tasks",
    "optimizer": "optim",
    "lr_scheduler": "optim",
}

_DIST_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$")

_USAGE = {
    "model": "seq-train DATA --task translation --arch ${name}_small --optimizer adam --lr 0.001 --max-tokens 4096",
    "criterion": "seq-train DATA --task translation --arch transformer --criterion ${name} --lr 0.0005",
    "task": "seq-train DATA --task ${name} --arch transformer --optimizer adam --lr 0.0005  # DATA/train.tsv",
    "optimizer": "seq-train DATA --task translation --arch transformer --optimizer ${name} --lr 0.1",
    "lr_scheduler": "seq-train DATA --task translation --arch transformer --optimizer adam --lr 0.0005 "
    "--lr-scheduler ${name} --warmup-updates 4000",
}


@dataclass(frozen=True)
class Scaffold:
    """What ``seq-plugins new KIND NAME`` writes, and where."""

    kind: str
    name: str
    dist: str

    @property
    def family(self) -> str:
        """The namespace family the plugin's module lives in (``models``, ``optim``, ...)."""
        return FAMILIES[self.kind]

    @property
    def module(self) -> str:
        """The module that registers the plugin."""
        return f"seqlab.{self.family}.{self.name}"

    def entry_points(self) -> dict[str, list[str]]:
        """Entry-point group -> the registered names the package declares in it."""
        groups = {discovery.GROUPS[self.kind]: [self.name]}
        if self.kind == "model":
            groups[discovery.GROUPS["architecture"]] = [f"{self.name}_small"]
        return groups

    def files(self) -> dict[str, str]:
        """Relative path -> text of every file of the package."""
        values = {
            "name": self.name,
            "Class": "".join(part[:1].upper() + part[1:] for part in self.name.split("_")) or self.name,
            "dist": self.dist,
            "family": self.family,
            "module": self.module,
            "kind_words": self.kind.replace("_", " "),
            "registry_kind": self.kind,
            "core_requirement": core_requirement(),
            "torch_requirement": torch_requirement(),
            "entry_points": self._entry_point_table(),
        }
        values["usage"] = Template(_USAGE[self.kind]).substitute(values)
        return {
            "pyproject.toml": _render("pyproject.toml.tmpl", values),
            "README.md": _render("README.md.tmpl", values),
            f"src/seqlab/{self.family}/{self.name}.py": _render(f"{self.kind}.py.tmpl", values),
            f"tests/test_{self.name}.py": _render(f"test_{self.kind}.py.tmpl", values),
        }

    def _entry_point_table(self) -> str:
        blocks = []
        for group, names in self.entry_points().items():
            lines = [f'[project.entry-points."{group}"]'] + [f'{n} = "{self.module}"' for n in names]
            blocks.append("\n".join(lines) + "\n")
        return "\n".join(blocks)


def _render(template: str, values: dict[str, str]) -> str:
    text = importlib.resources.files("seqlab.cli").joinpath("scaffold_templates", template).read_text("utf-8")
    return Template(text).substitute(values)


def core_requirement() -> str:
    """The range of seqlab-core versions a new plugin package is compatible with (this minor release)."""
    major, minor = (int(x) for x in seqlab.core.__version__.split(".")[:2])
    upper = f"{major}.{minor + 1}" if major == 0 else f"{major + 1}"
    return f"seqlab-core>={major}.{minor},<{upper}"


def torch_requirement() -> str:
    """The torch requirement seqlab-core declares (plain ``torch`` if it cannot be read)."""
    try:
        requires = md.requires("seqlab-core") or []
    except md.PackageNotFoundError:
        requires = []
    for req in requires:
        if re.match(r"torch\b", req) and ";" not in req:
            return req.replace(" ", "")
    return "torch"


def plan(kind: str, name: str, dist: str | None) -> Scaffold:
    """Validate ``KIND NAME [--dist DIST]``; raise ConfigError naming what is wrong and the fix."""
    if kind not in FAMILIES:
        raise ConfigError(f"unknown KIND '{kind}'; choose one of {', '.join(FAMILIES)}")
    if not name.isidentifier() or keyword.iskeyword(name):
        suggestion = re.sub(r"\W", "_", name).strip("_") or "my_plugin"
        if suggestion[:1].isdigit() or keyword.iskeyword(suggestion):
            suggestion = f"my_{suggestion}"
        raise ConfigError(
            f"NAME '{name}' is not a Python identifier; it names a module too, so use letters, digits "
            f"and underscores, not starting with a digit (e.g. {suggestion})"
        )
    family = FAMILIES[kind]
    dist = dist or f"seqlab-{family}-{name.replace('_', '-')}"
    if not _DIST_NAME.match(dist):
        raise ConfigError(
            f"--dist '{dist}' is not a valid distribution name; use letters, digits, '-', '_' and '.', "
            "starting and ending with a letter or digit"
        )
    scaffold = Scaffold(kind, name, dist)
    _refuse_clashes(scaffold)
    return scaffold


def _refuse_clashes(scaffold: Scaffold) -> None:
    for group, names in scaffold.entry_points().items():
        kind = next(k for k, g in discovery.GROUPS.items() if g == group)
        for plugin_name in names:
            others = {
                a.distribution
                for a in discovery.advertised(kind).get(plugin_name, ())
                if _normalized(a.distribution) != _normalized(scaffold.dist)
            }
            if others:
                raise ConfigError(
                    f"a {kind} named '{plugin_name}' is already installed (from {', '.join(sorted(others))}); "
                    "choose another NAME"
                )
    owner = discovery.distribution_of_module(scaffold.module)
    if owner is not None and _normalized(owner[0]) == _normalized(scaffold.dist):
        return  # the package's own module, installed: regenerating it is what --force is for
    spec = importlib.util.find_spec(f"seqlab.{scaffold.family}")
    for location in (spec.submodule_search_locations or []) if spec else []:
        for candidate in (scaffold.name, scaffold.name + ".py"):
            path = os.path.join(location, candidate)
            if os.path.exists(path) and not _inside(path, os.path.abspath(scaffold.dist)):
                raise ConfigError(
                    f"module {scaffold.module} already exists ({path}); a second one would shadow it "
                    "or be shadowed: choose another NAME"
                )


def _normalized(dist: str) -> str:
    return re.sub(r"[-_.]+", "-", dist).lower()


def _inside(path: str, folder: str) -> bool:
    return os.path.realpath(path).startswith(os.path.realpath(folder) + os.sep)


def write(scaffold: Scaffold, where: str, force: bool = False) -> str:
    """Write the package into ``where/<dist>``; return that folder.

    An existing folder is refused unless ``force``, which overwrites the files the scaffold
    writes and leaves any others. Files are written into a temporary folder first, so an
    error leaves nothing half written.
    """
    target = os.path.join(where, scaffold.dist)
    if os.path.lexists(target) and not force:
        raise ConfigError(
            f"{target} already exists; pass --force to overwrite the files seq-plugins new writes "
            "there, or choose another --dist"
        )
    if os.path.lexists(target) and not os.path.isdir(target):
        raise ConfigError(f"{target} exists and is not a folder; move it away or choose another --dist")
    staging = tempfile.mkdtemp(prefix=f".{scaffold.dist}.", dir=where)
    try:
        files = scaffold.files()
        for rel, text in files.items():
            path = os.path.join(staging, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8", newline="\n") as fh:
                fh.write(text)
        if not os.path.lexists(target):
            os.rename(staging, target)
            return target
        for rel in files:
            os.makedirs(os.path.dirname(os.path.join(target, rel)), exist_ok=True)
            os.replace(os.path.join(staging, rel), os.path.join(target, rel))
        return target
    finally:
        shutil.rmtree(staging, ignore_errors=True)
