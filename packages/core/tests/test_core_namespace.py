"""seqlab is a PEP 420 namespace: any distribution can add to it."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys

import seqlab


def test_seqlab_is_a_namespace_package():
    assert getattr(seqlab, "__file__", None) is None
    assert type(seqlab.__path__).__name__ == "_NamespacePath"


def test_no_distribution_ships_seqlab_init():
    for folder in seqlab.__path__:
        assert not os.path.exists(os.path.join(folder, "__init__.py")), folder


def test_family_namespaces_stay_namespaces():
    for family in ("models", "criterions", "tasks", "optim"):
        try:
            module = importlib.import_module(f"seqlab.{family}")
        except ModuleNotFoundError:
            continue  # that family is not installed in this environment
        assert getattr(module, "__file__", None) is None, f"seqlab.{family} must not have an __init__.py"
        for folder in module.__path__:
            assert not os.path.exists(os.path.join(folder, "__init__.py")), folder


def test_importing_core_does_not_import_torch():
    code = "import sys, seqlab.core; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_lazy_base_names_match_bases_module():
    import seqlab.core as core
    from seqlab.core import bases

    assert set(core._BASES) == set(bases.__all__)
    assert core.FairseqEncoderDecoderModel is bases.EncoderDecoderModel
