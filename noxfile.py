"""Environments for seqlab: one session per package, one for everything, lint, the demo and the bench.

Every install goes through constraints.txt, which holds torch to the CPU wheel on disk.
Packages are installed as regular (not editable) installs, each session only with what
the package declares.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nox

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).parent
CONSTRAINTS = ("-c", str(ROOT / "constraints.txt"))
PACKAGES = {
    "core": "packages/core",
    "models": "packages/models",
    "criterions": "packages/criterions",
    "tasks": "packages/tasks",
    "optim": "packages/optim",
    "cli": "cli",
}
TEST_TOOLS = ("pytest", "hypothesis")
#: a plugin package made with ``seq-plugins new``, installed next to the built-ins like any other
EXAMPLE = "examples/seqlab-models-gru"

nox.options.sessions = ["lint", "tests"]
nox.options.reuse_existing_virtualenvs = True


def _project(key: str) -> dict:
    with open(ROOT / PACKAGES[key] / "pyproject.toml", "rb") as fh:
        return tomllib.load(fh)["project"]


def _local_requirements(key: str) -> list[str]:
    """The package and every seqlab package it declares, transitively, in install order."""
    by_dist = {_project(k)["name"]: k for k in PACKAGES}
    order: list[str] = []

    def visit(k: str) -> None:
        for dep in _project(k).get("dependencies", []):
            name = re.split(r"[\s<>=!~;\[]", dep, maxsplit=1)[0]
            if name in by_dist and by_dist[name] not in order:
                visit(by_dist[name])
        if k not in order:
            order.append(k)

    visit(key)
    return order


def _install(session: nox.Session, keys: list[str], *extra: str) -> None:
    paths = [str(ROOT / PACKAGES[k]) for k in keys] + [str(ROOT / e) for e in extra]
    session.install(*CONSTRAINTS, *paths, *TEST_TOOLS)


def _package_session(key: str) -> None:
    def run(session: nox.Session) -> None:
        _install(session, _local_requirements(key))
        session.run("pytest", "-q", str(ROOT / PACKAGES[key] / "tests"), *session.posargs)

    run.__doc__ = f"Install {_project(key)['name']} with only what it declares and run its tests."
    nox.session(name=key)(run)


for _key in PACKAGES:
    _package_session(_key)


@nox.session
def tests(session: nox.Session) -> None:
    """Install every package and run every test, the cross-package ones in tests/ included."""
    _install(session, list(PACKAGES), EXAMPLE)
    session.install(*CONSTRAINTS, "sacremoses")  # seqlab-tasks[moses]: --eval-bleu-detok moses
    targets = [str(ROOT / p / "tests") for p in PACKAGES.values()] + [str(ROOT / "tests")]
    targets.append(str(ROOT / EXAMPLE / "tests"))
    session.run("pytest", "-q", *targets, *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check, ruff format --check, and no __init__.py where seqlab must stay a namespace."""
    session.install("ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    families = ("", "models", "criterions", "tasks", "optim")
    stray = [
        str(path.relative_to(ROOT))
        for pkg in PACKAGES.values()
        for fam in families
        if (path := ROOT / pkg / "src" / "seqlab" / fam / "__init__.py").exists()
    ]
    if stray:
        session.error(f"namespace packages must not have __init__.py: {', '.join(stray)}")


@nox.session
def demo(session: nox.Session) -> None:
    """Install every package, then preprocess, train and translate a corpus the demo makes itself."""
    _install(session, list(PACKAGES))
    session.run("seq-demo", "--workdir", str(ROOT / "demo-run"), *session.posargs)


@nox.session
def example(session: nox.Session) -> None:
    """Install the built-ins and the contributed seqlab-models-gru; run its tests, find it with
    seq-plugins, and train it with seq-train (no --user-dir) on a tiny generated corpus."""
    _install(session, list(PACKAGES), EXAMPLE)
    session.run("pytest", "-q", str(ROOT / EXAMPLE / "tests"), *session.posargs)
    listing = session.run("seq-plugins", "list", "--kind", "model", silent=True) or ""
    if ["gru", "seqlab-models-gru"] not in [line.split()[:2] for line in listing.splitlines()]:
        session.error(f"seq-plugins list does not show gru from seqlab-models-gru:\n{listing}")
    session.log("seq-plugins lists gru from seqlab-models-gru")
    session.run("python", str(ROOT / "examples" / "train_gru_demo.py"))


@nox.session
def bench(session: nox.Session) -> None:
    """Install every package (+ sentencepiece, sacrebleu) and run bench/run_bench.py against fairseq 0.12.

    Not part of CI: it takes about 45 minutes on 2 cores (``-- --quick`` for a smoke test, ``-- --long``
    for the BLEU rows). fairseq is built once into .bench-cache/fairseq-venv by the bench itself.
    """
    packages = [str(ROOT / path) for path in PACKAGES.values()]
    session.install(*CONSTRAINTS, *packages, "sentencepiece", "sacrebleu")
    session.run("python", str(ROOT / "bench" / "run_bench.py"), *session.posargs)
