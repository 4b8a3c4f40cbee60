"""seq-plugins: listing with provenance, describing options, one-line errors."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from seqlab.cli.plugins import main

USER_PLUGIN = """
from dataclasses import dataclass, field
from seqlab.core import Criterion, register_criterion


@dataclass
class SharpConfig:
    sharpness: float = field(default=1.5, metadata={"help": "how sharp the loss is"})


@register_criterion("sharp_loss", dataclass=SharpConfig)
class SharpLoss(Criterion):
    '''A criterion from a user dir.'''
"""


def _user_dir(tmp_path):
    root = tmp_path / "my-plugins"
    root.mkdir()
    (root / "__init__.py").write_text(textwrap.dedent(USER_PLUGIN))
    return root


def test_lists_every_kind_and_user_dir_plugins_with_their_path(tmp_path, capsys):
    root = _user_dir(tmp_path)
    assert main(["--user-dir", str(root)]) == 0
    out = capsys.readouterr().out
    for heading in ("models:", "architectures:", "criterions:", "tasks:", "optimizers:", "lr_schedulers:"):
        assert heading in out
    line = next(x for x in out.splitlines() if "sharp_loss" in x)
    assert f"user dir {root}" in line


def test_describe_prints_options_with_defaults_and_help(tmp_path, capsys):
    root = _user_dir(tmp_path)
    assert main(["--user-dir", str(root), "describe", "sharp_loss"]) == 0
    out = capsys.readouterr().out
    assert "criterion sharp_loss" in out and "A criterion from a user dir." in out
    assert "--sharpness (default: 1.5)" in out and "how sharp the loss is" in out


def test_unknown_plugin_is_one_line_and_exit_2(tmp_path):
    root = _user_dir(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "seqlab.cli.plugins", "--user-dir", str(root), "describe", "sharp_los"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0
    assert "no plugin is named 'sharp_los' (did you mean sharp_loss?)" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_broken_user_dir_error_and_debug_traceback(tmp_path):
    root = tmp_path / "broken"
    root.mkdir()
    (root / "__init__.py").write_text("import not_a_module_anywhere\n")
    cmd = [sys.executable, "-m", "seqlab.cli.plugins", "--user-dir", str(root)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "ModuleNotFoundError" in proc.stderr and f"{root}/__init__.py:1" in proc.stderr
    debug = subprocess.run([*cmd, "--debug"], capture_output=True, text=True)
    assert debug.returncode != 0 and "Traceback" in debug.stderr
