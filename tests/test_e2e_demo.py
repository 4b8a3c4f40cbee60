"""seq-demo's whole flow on a tiny run (needs every built-in package, so it lives with the cross-package tests)."""

from __future__ import annotations

import subprocess
import sys


def test_tiny_demo_runs_end_to_end(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "seqlab.cli.demo",
            "--workdir",
            str(tmp_path / "run"),
            "--train-size",
            "400",
            "--max-update",
            "6",
            "--samples",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert (
        "$ seq-preprocess" in proc.stdout and "$ seq-train" in proc.stdout and "$ seq-generate" in proc.stdout
    )
    assert "copy-the-source baseline" in proc.stdout
    assert (tmp_path / "run" / "checkpoints" / "checkpoint_best.pt").exists()
