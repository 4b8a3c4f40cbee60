"""Registries: decorators, no-op re-registration, conflicts named by site, lazy arch models."""

from __future__ import annotations

import pytest

from seqlab.core import PluginError, get_plugin, import_user_dir, register_model
from seqlab.core.registry import REGISTRIES, resolve_architecture


def test_registering_the_same_object_twice_is_a_no_op(toy_dir):
    import_user_dir(str(toy_dir))
    plugin = get_plugin("model", "toy_model")
    again = register_model("toy_model")(plugin.obj)
    assert again is plugin.obj
    assert get_plugin("model", "toy_model") is plugin


def test_two_objects_under_one_name_name_both_definitions(make_dir):
    body = (
        "import torch\nfrom seqlab.core import BaseModel, register_model\n\n"
        "@register_model('dup_model')\nclass M(BaseModel):\n    pass\n"
    )
    first = make_dir("first", {"__init__.py": body})
    second = make_dir("second", {"__init__.py": "\n\n" + body})
    import_user_dir(str(first))
    with pytest.raises(PluginError) as err:
        import_user_dir(str(second))
    msg = str(err.value)
    assert "two different models are registered as 'dup_model'" in msg
    assert f"{first}/__init__.py:4" in msg
    assert f"{second}/__init__.py:6" in msg
    assert "seqlab_user_first_" in msg and "seqlab_user_second_" in msg
    assert "\n" not in msg


def test_plugin_must_subclass_its_base(make_dir):
    bad = make_dir(
        "bad",
        {
            "__init__.py": "from seqlab.core import register_criterion\n"
            "@register_criterion('nope')\nclass C:\n    pass\n"
        },
    )
    with pytest.raises(PluginError, match="must be a subclass of seqlab.core.Criterion"):
        import_user_dir(str(bad))


def test_model_name_is_an_architecture(toy_dir):
    import_user_dir(str(toy_dir))
    arch, model = resolve_architecture("toy_model")
    assert arch.implicit and model.name == "toy_model"
    arch, model = resolve_architecture("toy_bigger")
    assert arch.model == "toy_model" and model.obj.__name__ == "ToyModel"


def test_architecture_for_an_unknown_model_fails_when_chosen(make_dir):
    folder = make_dir(
        "orphan",
        {
            "__init__.py": "from seqlab.core import register_model_architecture\n"
            "@register_model_architecture('ghost', 'ghost_big')\ndef a(args):\n    pass\n"
        },
    )
    import_user_dir(str(folder))
    with pytest.raises(PluginError) as err:
        resolve_architecture("ghost_big")
    assert "is for model 'ghost'" in str(err.value)
    assert f"{folder}/__init__.py:2" in str(err.value)


def test_unknown_name_suggests_closest(toy_dir):
    import_user_dir(str(toy_dir))
    with pytest.raises(PluginError) as err:
        get_plugin("criterion", "toy_crti")
    assert "unknown --criterion 'toy_crti' (did you mean toy_crit?)" in str(err.value)
    assert "choices:" in str(err.value) and "toy_crit" in str(err.value)


def test_missing_family_names_its_distribution(monkeypatch):
    from seqlab.core import discovery

    monkeypatch.setattr(discovery, "advertised", lambda kind: {})
    monkeypatch.setattr(discovery, "distribution_installed", lambda name: False)
    monkeypatch.setattr(REGISTRIES["optimizer"], "_plugins", {})
    with pytest.raises(PluginError) as err:
        get_plugin("optimizer", "adam")
    assert "pip install seqlab-optim" in str(err.value)
