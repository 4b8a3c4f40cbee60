"""Two-stage options: precedence, --print-config, config files, suggestions, help."""

from __future__ import annotations

import json

import pytest

from seqlab.core import ConfigError, PluginError
from seqlab.core.options import ARCH, Choice, ToolSpec, parse

TOY_SPEC = ToolSpec(
    "toy-train",
    "a tool choosing one plugin of each kind",
    (
        Choice("task", "task", "toy_task"),
        ARCH,
        Choice("criterion", "criterion", "toy_crit"),
        Choice("optimizer", "optimizer", "toy_opt"),
        Choice("lr_scheduler", "lr_scheduler", "toy_sched"),
    ),
    add_args=lambda p: p.add_argument(
        "--lr", type=lambda s: [float(x) for x in s.split(",")], default=[0.25]
    ),
)


def _parse(toy_dir, *argv):
    return parse(TOY_SPEC, ["--user-dir", str(toy_dir), *argv])


def test_precedence_shown_by_print_config(toy_dir, tmp_path, capsys):
    config = tmp_path / "run.toml"
    config.write_text("layers = 6\nhidden = 32\n")
    with pytest.raises(SystemExit) as done:
        _parse(toy_dir, "DATA", "-a", "toy_big", "--config", str(config), "--hidden", "16", "--print-config")
    assert done.value.code == 0
    lines = {line.split("=")[0].strip(): line for line in capsys.readouterr().out.splitlines()}
    assert lines["activation"].endswith("# default (model toy_model)")  # plugin default
    assert '"relu"' in lines["activation"]
    assert lines["dropout"].endswith("# arch toy_big") and "0.3" in lines["dropout"]  # preset beats default
    assert lines["layers"].endswith(f"# config {config}") and " 6 " in lines["layers"]  # config beats preset
    assert lines["hidden"].endswith("# command line") and " 16 " in lines["hidden"]  # flag beats config
    assert lines["momentum"].endswith("# default (optimizer toy_opt)")
    assert lines["data"].endswith("# command line")


def test_preset_never_overrides_a_typed_flag(toy_dir):
    cfg = _parse(toy_dir, "DATA", "-a", "toy_bigger", "--layers", "2", "--dropout", "0.0")
    assert (cfg.args.layers, cfg.args.dropout, cfg.args.hidden) == (2, 0.0, 64)
    assert cfg.sources["hidden"] == "arch toy_bigger"


def test_json_config_and_plugin_choice_from_config(toy_dir, tmp_path):
    config = tmp_path / "run.json"
    config.write_text(json.dumps({"arch": "toy_big", "tie": True, "sizes": [3, 4], "lr": "0.5,0.1"}))
    cfg = _parse(toy_dir, "DATA", "--config", str(config))
    assert cfg.args.arch == "toy_big" and cfg.args.tie is True
    assert cfg.args.sizes == [3, 4] and cfg.args.lr == [0.5, 0.1]
    assert cfg.args.hidden == 64


def test_typed_flag_suggestion(toy_dir):
    with pytest.raises(ConfigError) as err:
        _parse(toy_dir, "DATA", "-a", "toy_model", "--lr-shedular", "toy_sched")
    assert "unknown option --lr-shedular (did you mean --lr-scheduler?)" in str(err.value)


def test_typed_plugin_name_suggestion_lists_choices(toy_dir):
    with pytest.raises(PluginError) as err:
        _parse(toy_dir, "DATA", "-a", "toy_bgi")
    msg = str(err.value)
    assert "unknown --arch 'toy_bgi' (did you mean toy_big" in msg
    assert "choices:" in msg and "toy_bigger" in msg


def test_unknown_config_key_suggests(toy_dir, tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text("hiden = 3\n")
    with pytest.raises(ConfigError, match=r"unknown option 'hiden' \(did you mean hidden\?\)"):
        _parse(toy_dir, "DATA", "-a", "toy_model", "--config", str(config))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("layers = [", "not valid TOML"),
        ("tie = 3", "must be true or false"),
        ("activation = 'tanh'", "is not one of relu, gelu"),
        ("layers = 'many'", "invalid value"),
    ],
)
def test_malformed_config_is_one_clear_line(toy_dir, tmp_path, text, message):
    config = tmp_path / "bad.toml"
    config.write_text(text + "\n")
    with pytest.raises(ConfigError) as err:
        _parse(toy_dir, "DATA", "-a", "toy_model", "--config", str(config))
    assert message in str(err.value) and "\n" not in str(err.value)


def test_dataclass_flags_types(toy_dir):
    cfg = _parse(
        toy_dir, "DATA", "-a", "toy_model", "--tie", "--no-bias", "--sizes", "5,6,7", "--activation", "gelu"
    )
    assert cfg.args.tie is True and cfg.args.bias is False
    assert cfg.args.sizes == [5, 6, 7] and cfg.args.activation == "gelu"
    with pytest.raises(ConfigError, match="invalid choice"):
        _parse(toy_dir, "DATA", "-a", "toy_model", "--activation", "tanh")


def test_add_args_plugins_and_positional_from_task(toy_dir):
    cfg = _parse(toy_dir, "DATA", "-a", "toy_model", "--toy-weight", "0.5")
    assert cfg.args.toy_weight == 0.5 and cfg.args.data == "DATA"
    with pytest.raises(ConfigError, match="the following arguments are required: data"):
        _parse(toy_dir, "-a", "toy_model")


def test_arch_is_required(toy_dir):
    with pytest.raises(ConfigError, match="--arch is required; choices:"):
        _parse(toy_dir, "DATA")


def test_help_shows_chosen_plugins_options(toy_dir, capsys):
    with pytest.raises(SystemExit):
        _parse(toy_dir, "-a", "toy_big", "--help")
    out = capsys.readouterr().out
    assert "--hidden HIDDEN" in out and "hidden size (default: 8)" in out
    assert "--momentum" in out and "--toy-weight" in out


def test_help_without_an_arch_shows_common_options_and_how_to_see_more(toy_dir, capsys):
    with pytest.raises(SystemExit) as exit_:
        _parse(toy_dir, "--help")
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "--user-dir" in out and "--momentum" in out and "--hidden" not in out
    assert "Add --arch NAME to see that plugin's options too." in out


def test_config_to_dict_is_plain_data(toy_dir):
    cfg = _parse(toy_dir, "DATA", "-a", "toy_big")
    data = cfg.to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["arch"] == "toy_big" and data["hidden"] == 64
