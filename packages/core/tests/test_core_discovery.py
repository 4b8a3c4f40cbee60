"""Entry-point discovery: listing imports nothing; choosing imports one module; broken plugins stay quiet."""

from __future__ import annotations

import sys
import textwrap

import pytest

from seqlab.core import PluginError, discovery, get_plugin, plugin_names
from seqlab.core.options import Choice, ToolSpec, parse


@pytest.fixture
def fake_dist(tmp_path, monkeypatch):
    """An installed distribution 'fakeplug': a working and a broken criterion, and a model."""
    site = tmp_path / "site"
    info = site / "fakeplug-1.2.3.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fakeplug\nVersion: 1.2.3\n")
    (info / "entry_points.txt").write_text(
        "[seqlab.criterions]\nfake_ok = fakeplug_ok\nfake_broken = fakeplug_broken\n"
        "[seqlab.models]\nfake_model = fakeplug_model\n"
    )
    (site / "fakeplug_model.py").write_text(
        "from seqlab.core import BaseModel, register_model\n\n"
        "@register_model('fake_model')\nclass FakeModel(BaseModel):\n    pass\n"
    )
    (site / "fakeplug_ok.py").write_text(
        textwrap.dedent("""
        from seqlab.core import Criterion, register_criterion

        @register_criterion("fake_ok")
        class FakeOk(Criterion):
            @staticmethod
            def add_args(parser):
                parser.add_argument("--fake-strength", type=float, default=2.0, help="how strong")
    """)
    )
    (site / "fakeplug_broken.py").write_text("raise RuntimeError('this plugin is broken on purpose')\n")
    monkeypatch.syspath_prepend(str(site))
    discovery.refresh()
    yield site
    discovery.refresh()


def test_listing_imports_no_plugin_module(fake_dist):
    names = plugin_names("criterion")
    assert {"fake_ok", "fake_broken"} <= set(names)
    assert "fakeplug_ok" not in sys.modules and "fakeplug_broken" not in sys.modules
    items = discovery.advertised("criterion")["fake_ok"]
    assert items[0].distribution == "fakeplug" and items[0].version == "1.2.3"


def test_choosing_imports_only_that_module(fake_dist):
    plugin = get_plugin("criterion", "fake_ok")
    assert "fakeplug_ok" in sys.modules and "fakeplug_broken" not in sys.modules
    assert plugin.provenance() == {"distribution": "fakeplug", "version": "1.2.3", "module": "fakeplug_ok"}


def test_broken_plugin_listed_but_not_chosen_breaks_nothing(fake_dist):
    spec = ToolSpec("tool", "test", (Choice("criterion", "criterion", "fake_ok"),))
    cfg = parse(spec, ["--fake-strength", "3"])
    assert cfg.args.criterion == "fake_ok" and cfg.args.fake_strength == 3.0
    assert "fake_broken" in plugin_names("criterion")


def test_broken_plugin_chosen_names_plugin_module_and_exception(fake_dist):
    with pytest.raises(PluginError) as err:
        get_plugin("criterion", "fake_broken")
    msg = str(err.value)
    assert "criterion 'fake_broken' from fakeplug 1.2.3 failed to load" in msg
    assert "importing fakeplug_broken raised RuntimeError: this plugin is broken on purpose" in msg


def test_user_plugin_clashing_with_installed_one_is_reported(fake_dist, make_dir):
    from seqlab.core import import_user_dir

    clash = make_dir(
        "clash",
        {
            "__init__.py": "from seqlab.core import Criterion, register_criterion\n"
            "@register_criterion('fake_ok')\nclass Mine(Criterion):\n    pass\n"
        },
    )
    with pytest.raises(PluginError) as err:
        import_user_dir(str(clash))
    assert "fakeplug_ok" in str(err.value) and str(clash) in str(err.value)


def test_arch_for_an_installed_model_loads_that_model(fake_dist, make_dir):
    from seqlab.core import import_user_dir
    from seqlab.core.registry import resolve_architecture

    arch_dir = make_dir(
        "arch-only",
        {
            "__init__.py": "from seqlab.core import register_model_architecture\n"
            "@register_model_architecture('fake_model', 'fake_model_big')\ndef big(args):\n    pass\n"
        },
    )
    assert "fakeplug_model" not in sys.modules
    import_user_dir(str(arch_dir))
    assert "fakeplug_model" in sys.modules
    arch, model = resolve_architecture("fake_model_big")
    assert model.provenance()["distribution"] == "fakeplug"
    assert arch.provenance()["user_dir"] == str(arch_dir.resolve())
