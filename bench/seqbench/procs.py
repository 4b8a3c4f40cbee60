"""Run one measured child process: its wall time, its own peak RSS (os.wait4), its output."""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO


@dataclass
class Run:
    """What one child process did."""

    argv: list[str]
    returncode: int
    wall_s: float
    peak_rss_mib: float
    stdout: str
    stderr: str

    def check(self) -> Run:
        """Raise with the tail of the output when the process failed; return self otherwise."""
        if self.returncode != 0:
            tail = "\n".join((self.stdout + "\n" + self.stderr).strip().splitlines()[-25:])
            raise RuntimeError(f"{Path(self.argv[0]).name} exited {self.returncode}:\n{tail}")
        return self


def run(
    argv: list[str], env: dict[str, str] | None = None, cwd: Path | None = None, log: Path | None = None
) -> Run:
    """Run ``argv`` to completion, its output kept in ``log``.out/.err when given.

    The peak RSS comes from os.wait4 on this child alone: RUSAGE_CHILDREN would give the
    maximum over every child so far.
    """
    with _sink(log, ".out") as out, _sink(log, ".err") as err:
        start = time.perf_counter()
        # files, not pipes: a chatty child never blocks on a full pipe, and timing stays clean
        proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = code = os.waitstatus_to_exitcode(status)
        stdout, stderr = _read(out), _read(err)
    return Run(argv, code, wall, usage.ru_maxrss / 1024, stdout, stderr)


def _sink(log: Path | None, suffix: str) -> IO[str]:
    if log is None:
        return tempfile.TemporaryFile("w+", encoding="utf-8")
    log.parent.mkdir(parents=True, exist_ok=True)
    return open(f"{log}{suffix}", "w+", encoding="utf-8")


def _read(fh: IO[str]) -> str:
    fh.flush()
    fh.seek(0)
    return fh.read()
