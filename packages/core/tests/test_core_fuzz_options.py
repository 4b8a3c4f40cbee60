"""Fuzzing option parsing: any argv or config file parses or raises ConfigError/PluginError.

The real tools (``entry.run_tool``) print a ConfigError or PluginError as one line
and exit 2; any other exception would reach the user as a traceback. argparse
itself never exits here (its errors become ConfigError), with two deliberate
exceptions that print what was asked for and exit 0: help (``-h``/``--help``,
including ``-h`` clustered with other short flags, such as ``-ha``) and
``--print-config``. A SystemExit is therefore accepted only with code 0 and only
after help or the config listing was printed.

The parser runs in an empty folder so that a fuzzed ``--user-dir``/``--config``
path can never name a real package or file.

How many examples each property ran: add ``--hypothesis-show-statistics`` to the pytest command.
"""

from __future__ import annotations

import io
import json
import os
from contextlib import redirect_stdout

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from seqlab.core import ConfigError, PluginError
from seqlab.core.dataclass_options import parse_list
from seqlab.core.options import ARCH, Choice, ResolvedConfig, ToolSpec, parse
from seqlab.core.testing import time_limit

# the toy plugins' folder is made once per test and only read, so sharing it across examples is safe
FUZZ = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
LIMIT_S = 10

SPEC = ToolSpec(
    "fuzz-train",
    "a tool choosing one toy plugin of each kind",
    (
        Choice("task", "task", "toy_task"),
        ARCH,
        Choice("criterion", "criterion", "toy_crit"),
        Choice("optimizer", "optimizer", "toy_opt"),
        Choice("lr_scheduler", "lr_scheduler", "toy_sched"),
    ),
    add_args=lambda p: p.add_argument("--lr", type=parse_list(float), default=[0.25]),  # as seq-train's --lr
)

#: the type each toy option must have once parsed, whatever the command line or config file said
OPTION_TYPES = {
    "hidden": int, "layers": int, "max_positions": int, "warmup_updates": int,
    "dropout": float, "momentum": float, "lr_scheduler_shrink": float, "toy_weight": float,
    "activation": str, "tie": bool, "bias": bool, "print_config": bool, "debug": bool,
}  # fmt: skip
LIST_TYPES = {"sizes": int, "lr": float}

NAMES = ["toy_model", "toy_big", "toy_bigger", "toy_task", "toy_crit", "toy_opt", "toy_sched", "DATA"]
ints = st.integers(-(10**20), 10**20)
floats = st.floats()
#: the toy tool's flags that take a value, each with values it accepts
GOOD_VALUES = {
    **{f: ints.map(str) for f in ("--hidden", "--layers", "--max-positions", "--warmup-updates")},
    **{f: floats.map(str) for f in ("--dropout", "--momentum", "--lr-scheduler-shrink", "--toy-weight")},
    "--activation": st.sampled_from(["relu", "gelu"]),
    "--sizes": st.lists(ints, min_size=1, max_size=3).map(lambda v: ",".join(map(str, v))),
    "--lr": st.lists(floats, min_size=1, max_size=3).map(lambda v: ",".join(map(str, v))),
    "--arch": st.sampled_from(["toy_model", "toy_big", "toy_bigger"]),
    "-a": st.sampled_from(["toy_model", "toy_big", "toy_bigger"]),
    "--task": st.just("toy_task"),
    "--criterion": st.just("toy_crit"),
    "--optimizer": st.just("toy_opt"),
    "--lr-scheduler": st.just("toy_sched"),
}
SWITCHES = ["--tie", "--bias", "--no-bias", "--debug", "--print-config"]
#: tokens that are likely to upset a parser: help, separators, clusters, unknown or malformed flags
ODD_FLAGS = ["-h", "--help", "--", "-", "-ha", "-a=", "--no-tie", "--config", "--user-dir", "--hid", "---hidden"]  # fmt: skip
values = st.one_of(
    st.sampled_from(NAMES + ["relu", "1,2", "[1, 2]", "", " ", "nan", "-inf", "1e999", "0x10", "1_0", "-1"]),
    ints.map(str),
    floats.map(str),
    st.text(max_size=20),
)


@st.composite
def option(draw: st.DrawFn, good_only: bool = False) -> list[str]:
    """One flag with a value that is (usually, or always) right for it, as two tokens or as ``--flag=value``."""
    flag = draw(st.sampled_from(sorted(GOOD_VALUES)))
    value = draw(GOOD_VALUES[flag] if good_only else st.one_of(*[GOOD_VALUES[flag]] * 3, values))
    # "--sizes -5,3" is two flags to argparse (only a lone negative number reads as a value), so join those
    joined = flag.startswith("--") and (value.startswith("-") or draw(st.booleans()))
    return [f"{flag}={value}"] if joined else [flag, value]


noise = st.one_of(
    st.sampled_from([*SWITCHES, *ODD_FLAGS, *GOOD_VALUES]),
    values,
    st.builds(lambda f, v: f"{f}={v}", st.sampled_from([*SWITCHES, *ODD_FLAGS, *GOOD_VALUES]), values),
    st.text(max_size=15).map(lambda t: "--" + t),
    st.text(max_size=3).map(lambda t: "-" + t),
).map(lambda token: [token])
# mostly well-formed options, so parsing gets past the first error often enough to reach the later checks
argv_groups = st.lists(
    st.one_of(option(), option(), option(), option(), st.sampled_from(SWITCHES).map(lambda f: [f]), noise),
    max_size=6,
)


def _parse(argv: list[str]) -> ResolvedConfig | None:
    """Parse; None when it raised the tools' errors or exited after printing help or the config."""
    out = io.StringIO()
    with redirect_stdout(out), time_limit(LIMIT_S, f"parsing {argv!r}"):
        try:
            cfg = parse(SPEC, argv)
        except (ConfigError, PluginError) as err:
            assert len(str(err).splitlines()) == 1, f"not one line: {err!r}"  # as the tools print it
            event(f"raised {type(err).__name__}")
            return None
        except SystemExit as done:
            printed = out.getvalue()
            assert done.code == 0, f"argparse exited with {done.code}: {printed!r}"
            assert printed.startswith(("usage:", "# option = value")), printed
            event("printed help or the config, exit 0")
            return None
    event("parsed")
    return cfg


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_types(cfg: ResolvedConfig) -> None:
    args = vars(cfg.args)
    for name, kind in OPTION_TYPES.items():
        value = args.get(name)
        if value is None:  # unset: the plugin's default is None, or a JSON null
            continue
        if kind is float:
            assert _is_number(value), (name, value)
        else:
            assert type(value) is kind, (name, value)
    for name, item in LIST_TYPES.items():
        value = args.get(name)
        assert isinstance(value, list), (name, value)
        assert all(type(v) is item for v in value), (name, value)


@pytest.fixture
def in_empty_dir(tmp_path, monkeypatch):
    """Run in an empty folder, so that fuzzed relative paths name nothing."""
    (tmp_path / "empty").mkdir()
    monkeypatch.chdir(tmp_path / "empty")


@FUZZ
@given(st.sampled_from([True, True, True, False]), argv_groups)
@example(True, [["-ha"]])  # -h clustered with -a: argparse's own help action prints help and exits 0
@example(True, [["--help=x"]])
@example(True, [["--user-dir", "a\x00b"]])  # argv cannot hold NUL, but parse() is an API too
@example(True, [["--hidden", "\udcff"]])  # a non-UTF-8 byte in argv arrives as a lone surrogate
@example(True, [["--config=\n"], ["a\u2028b"]])  # user input quoted in an error must keep it one line
@example(False, [["--print-config"], ["-a", "toy_model"], ["DATA"], ["--dropout", "nan"]])
def test_any_argv_parses_or_raises_a_config_error(toy_dir, in_empty_dir, with_base, groups):
    base = ["DATA", "-a", "toy_model"] if with_base else []  # later groups may choose again
    argv = ["--user-dir", str(toy_dir), *base, *(t for g in groups for t in g)]
    cfg = _parse(argv)
    if cfg is not None:
        _check_types(cfg)


def _given(groups: list[list[str]]) -> dict[str, str]:
    """The last value given to each flag (argparse keeps the last)."""
    pairs = (g if len(g) == 2 else g[0].split("=", 1) for g in groups if len(g) == 2 or "=" in g[0])
    return {("--arch" if flag == "-a" else flag): value for flag, value in pairs}


@FUZZ
@given(
    st.lists(st.one_of(option(good_only=True), st.sampled_from(SWITCHES[:-1]).map(lambda f: [f])), max_size=8)
)
@example([["--lr=-inf,nan"], ["--sizes=-3"], ["--hidden", "-5"]])  # negative values need "=" or a lone number
def test_well_formed_argv_parses_to_the_values_given(toy_dir, in_empty_dir, groups):
    cfg = _parse(["--user-dir", str(toy_dir), "DATA", "-a", "toy_model", *(t for g in groups for t in g)])
    assert cfg is not None, f"well-formed options were refused: {groups}"
    _check_types(cfg)
    for flag, text in _given(groups).items():
        dest = flag.lstrip("-").replace("-", "_")
        want = {int: int, float: float}.get(OPTION_TYPES.get(dest), str)
        if dest in LIST_TYPES:
            want = parse_list(LIST_TYPES[dest])
        got, expected = getattr(cfg.args, dest), want(text)
        assert str(got) == str(expected), (flag, text, got)  # str(): nan equals nan


json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(10**400), 10**400),
        st.floats(),
        st.text(max_size=10),
        st.sampled_from(NAMES),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
#: config values each toy option accepts
GOOD_CONFIG = {
    **{k: st.integers(-(10**30), 10**30) for k in ("hidden", "layers", "max_positions", "warmup_updates")},
    **{
        k: st.one_of(st.floats(), st.integers())
        for k in ("dropout", "momentum", "lr_scheduler_shrink", "toy_weight")
    },
    "activation": st.sampled_from(["relu", "gelu"]),
    "tie": st.booleans(),
    "bias": st.booleans(),
    "sizes": st.one_of(st.lists(st.integers(), max_size=3), st.integers()),
    "lr": st.one_of(st.lists(st.floats(), max_size=3), st.just("0.5,0.1")),
    "arch": st.sampled_from(["toy_model", "toy_big"]),
}


@st.composite
def configs(draw: st.DrawFn) -> dict:
    """A config of known options with mostly fitting values, sometimes with a stray key."""
    keys = draw(st.lists(st.sampled_from(sorted(GOOD_CONFIG)), max_size=4, unique=True))
    config = {k: draw(st.one_of(GOOD_CONFIG[k], GOOD_CONFIG[k], json_values)) for k in keys}
    if draw(st.integers(0, 4)) == 0:
        config[draw(st.text(max_size=8))] = draw(json_values)
    return config


@FUZZ
@given(configs())
@example({"hidden": 1.5})  # a fraction for an integer option
@example({"dropout": True})  # a switch value for a number
@example({"hidden": [1, 2]})  # a list for a number
@example({"sizes": True})  # a switch value for a list
@example({"momentum": 10**400})  # too large for a float
@example({"layers": None})  # a JSON null where a number is needed
@example({"user_dir": "a\x00b"})
@example({"lr": [0.5, "x"]})
def test_any_json_config_parses_or_raises_a_config_error(toy_dir, in_empty_dir, config):
    with open("run.json", "w") as f:
        f.write(json.dumps(config))
    cfg = _parse(["--user-dir", str(toy_dir), "DATA", "-a", "toy_model", "--config", "run.json"])
    if cfg is not None:
        _check_types(cfg)
        for key, value in config.items():
            # a table is flattened into its keys, so only a number given directly must come back as given
            if OPTION_TYPES.get(key) in (int, float) and _is_number(value) and value == value:  # not NaN
                assert getattr(cfg.args, key) == value, key


TOML_VALUES = ["1", "-0", "1.5", "true", '"relu"', "'gelu'", "[1, 2]", "[]", "nan", "-inf", "1e400", "0x10"]
TOML_VALUES += ["{a = 1}", "{hidden = 3}", "1979-05-27", "07:32:00", '"""x"""', "[[1], [2]]", ""]
toml_texts = st.lists(
    st.tuples(
        st.one_of(st.sampled_from([*GOOD_CONFIG, "[table]", "a.b", '"hid-den"']), st.text(max_size=6)),
        st.one_of(st.sampled_from(TOML_VALUES), st.text(max_size=8)),
    ),
    max_size=5,
).map(lambda rows: "".join(f"{k} = {v}\n" for k, v in rows).encode("utf-8"))


@FUZZ
@given(st.one_of(st.binary(max_size=200), toml_texts), st.sampled_from(["run.json", "run.toml"]))
@example(b"[" * 5000, "run.json")  # nesting deep enough to exhaust the recursion limit
@example(b"a = " + b"[" * 5000, "run.toml")
@example(b"\xff\xfe", "run.toml")
def test_any_config_file_bytes(toy_dir, in_empty_dir, raw, name):
    with open(name, "wb") as f:
        f.write(raw)
    _parse(["--user-dir", str(toy_dir), "DATA", "-a", "toy_model", "--config", os.path.abspath(name)])
