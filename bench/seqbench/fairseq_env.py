"""The reference toolkit: fairseq 0.12 (fairseq-fixed) in a virtual environment of its own, cached.

Built once under .bench-cache/fairseq-venv with torch held to the repository's constraints
file; reused whenever ``fairseq-train --help`` works there.
"""

from __future__ import annotations

import subprocess
import venv
from pathlib import Path

from .config import CACHE, REPO
from .report import say, step

FAIRSEQ = "fairseq-fixed==0.12.3.1"
VENV = CACHE / "fairseq-venv"
#: the build needs these in the environment itself (it is built without isolation, so that its
#: extensions compile against the pinned torch rather than a torch pip would fetch on its own)
BUILD_REQUIREMENTS = ["torch", "numpy", "cython", "setuptools", "wheel"]


def bin_dir(venv_dir: Path = VENV) -> Path:
    """The folder holding the environment's fairseq-* commands."""
    return venv_dir / "bin"


def works(venv_dir: Path = VENV) -> bool:
    """Whether ``fairseq-train --help`` runs in the environment."""
    tool = bin_dir(venv_dir) / "fairseq-train"
    if not tool.is_file():
        return False
    done = subprocess.run([str(tool), "--help"], capture_output=True, text=True)
    return done.returncode == 0


def ensure(venv_dir: Path = VENV) -> Path:
    """Return the fairseq environment's bin folder, building it first when it does not work yet."""
    if works(venv_dir):
        say(f"reusing fairseq at {venv_dir}")
        return bin_dir(venv_dir)
    constraints = ["-c", str(REPO / "constraints.txt")]
    with step(f"building the fairseq environment in {venv_dir} (compiles extensions: minutes)"):
        if not (venv_dir / "bin" / "pip").is_file():
            venv.create(venv_dir, with_pip=True)
        pip = [str(bin_dir(venv_dir) / "pip"), "install", "--disable-pip-version-check", *constraints]
        log = venv_dir / "bench-build.log"
        with open(log, "a", encoding="utf-8") as out:
            for argv in (pip + BUILD_REQUIREMENTS, pip + ["--no-build-isolation", FAIRSEQ]):
                if subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT).returncode != 0:
                    raise SystemExit(f"installing fairseq failed; see {log}")
    if not works(venv_dir):
        raise SystemExit(f"fairseq-train --help fails in {venv_dir}; see {venv_dir / 'bench-build.log'}")
    return bin_dir(venv_dir)
