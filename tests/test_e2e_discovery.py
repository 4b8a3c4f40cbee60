"""With every package installed: namespaces merge, and listing imports no plugin module."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

FAMILIES = ("models", "criterions", "tasks", "optim")


@pytest.mark.parametrize("family", FAMILIES)
def test_family_is_an_installed_namespace(family):
    module = importlib.import_module(f"seqlab.{family}")
    assert getattr(module, "__file__", None) is None
    assert type(module.__path__).__name__ == "_NamespacePath"


def test_seq_plugins_imports_no_plugin_module():
    code = (
        "import sys\n"
        "from seqlab.cli.plugins import main\n"
        "assert main([]) == 0\n"
        "loaded = [m for m in sys.modules if m.split('.')[:2] in "
        "(['seqlab', 'models'], ['seqlab', 'criterions'], ['seqlab', 'tasks'], ['seqlab', 'optim'])]\n"
        "assert loaded == [], loaded\n"
        "assert 'torch' not in sys.modules\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    for dist in ("seqlab-models", "seqlab-criterions", "seqlab-tasks", "seqlab-optim"):
        assert f"{dist} 0.1.0" in proc.stdout
