"""seq-plugins new: every kind scaffolds a package whose own conformance test passes, one installs
for real with pip and is listed with its distribution, and misuse fails in one line."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from seqlab.cli.plugins import main

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

#: kind -> (plugin name, default distribution, family folder)
KINDS = {
    "model": ("tiny_seq2seq", "seqlab-models-tiny-seq2seq", "models"),
    "criterion": ("nll_sum", "seqlab-criterions-nll-sum", "criterions"),
    "task": ("tsv_pairs", "seqlab-tasks-tsv-pairs", "tasks"),
    "optimizer": ("momentum_sgd", "seqlab-optim-momentum-sgd", "optim"),
    "lr_scheduler": ("warm_exp", "seqlab-optim-warm-exp", "optim"),
}


def scaffold(where: Path, *args: str) -> int:
    """Run ``seq-plugins new ARGS`` in ``where``."""
    cwd = os.getcwd()
    os.chdir(where)
    try:
        return main(["new", *args])
    finally:
        os.chdir(cwd)


def fake_install(package: Path, site: Path) -> None:
    """Write the dist-info an install of ``package`` would, so its entry points are found from ``src``."""
    project = tomllib.loads((package / "pyproject.toml").read_text())["project"]
    info = site / f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n"
    )
    groups = project["entry-points"]
    text = "".join(
        f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in eps.items()) + "\n"
        for group, eps in groups.items()
    )
    (info / "entry_points.txt").write_text(text)


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """Scaffold every kind and run all the generated tests in one pytest process; return its report."""
    root = tmp_path_factory.mktemp("scaffolds")
    paths = []
    for kind, (name, dist, _) in KINDS.items():
        assert scaffold(root, kind, name) == 0
        fake_install(root / dist, root / f"site-{kind}")
        paths += [str(root / dist / "src"), str(root / f"site-{kind}")]
    report = root / "report.xml"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    env.pop("SEQLAB_USER_DIRS", None)
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--import-mode=importlib"]
    cmd += [f"--junitxml={report}", "--rootdir", str(root)]
    cmd += [str(root / dist / "tests") for _, dist, _ in KINDS.values()]
    proc = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=600)
    return root, proc, ET.parse(report).getroot() if report.exists() else None


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_scaffolded_package_has_entry_points_a_namespace_layout_and_a_passing_test(kind, generated):
    root, proc, report = generated
    name, dist, family = KINDS[kind]
    package = root / dist
    project = tomllib.loads((package / "pyproject.toml").read_text())
    assert project["project"]["name"] == dist
    assert "seqlab-core>=0.1,<0.2" in project["project"]["dependencies"]
    group = {"lr_scheduler": "seqlab.lr_schedulers"}.get(kind, f"seqlab.{kind}s")
    assert project["project"]["entry-points"][group] == {
        name: f"seqlab.{family}.{name}",
    }
    assert (package / "src" / "seqlab" / family / f"{name}.py").is_file()
    assert not (package / "src" / "seqlab" / "__init__.py").exists()
    assert not (package / "src" / "seqlab" / family / "__init__.py").exists()
    assert f"`{name}`" in (package / "README.md").read_text()

    assert report is not None, proc.stdout + proc.stderr
    cases = [c for c in report.iter("testcase") if f"test_{name}" in c.get("classname", "")]
    assert cases, f"no tests of {name} ran:\n{proc.stdout}{proc.stderr}"
    broken = {c.get("name"): c[0].get("message", "") for c in cases if len(c)}
    assert not broken, f"{broken}\n{proc.stdout}"


def test_a_model_package_comes_with_an_architecture(generated):
    root, _, _ = generated
    project = tomllib.loads((root / "seqlab-models-tiny-seq2seq" / "pyproject.toml").read_text())
    archs = project["project"]["entry-points"]["seqlab.architectures"]
    assert archs == {"tiny_seq2seq_small": "seqlab.models.tiny_seq2seq"}


def test_a_scaffolded_package_installs_with_pip_and_seq_plugins_lists_it(tmp_path):
    assert scaffold(tmp_path, "model", "pipmodel", "--dist", "seqlab-models-pip-example") == 0
    target = tmp_path / "site"
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target)]
    if importlib.util.find_spec("hatchling") is not None:
        cmd.append("--no-build-isolation")  # else pip fetches the build backend into an isolated env
    subprocess.run([*cmd, str(tmp_path / "seqlab-models-pip-example")], check=True, timeout=300)
    assert (target / "seqlab" / "models" / "pipmodel.py").is_file()
    assert not (target / "seqlab" / "__init__.py").exists()

    env = {**os.environ, "PYTHONPATH": str(target)}
    env.pop("SEQLAB_USER_DIRS", None)
    listing = subprocess.run(
        [sys.executable, "-m", "seqlab.cli.plugins", "list"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rows = {tuple(line.split()[:2]) for line in listing.splitlines() if line.startswith("  ")}
    assert ("pipmodel", "seqlab-models-pip-example") in rows
    assert ("pipmodel_small", "seqlab-models-pip-example") in rows
    described = subprocess.run(
        [sys.executable, "-m", "seqlab.cli.plugins", "describe", "pipmodel_small"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "a preset of model 'pipmodel'" in described and "from seqlab-models-pip-example 0.1.0" in described
    assert "--encoder-embed-dim (default: 64)" in described


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0, err
    assert err.startswith("seq-plugins: error: ")
    return err


def test_an_existing_folder_is_refused_unless_forced(tmp_path, capsys):
    assert scaffold(tmp_path, "criterion", "nll_sum") == 0
    package = tmp_path / "seqlab-criterions-nll-sum"
    plugin = package / "src" / "seqlab" / "criterions" / "nll_sum.py"
    original = plugin.read_text()
    plugin.write_text("# edited\n")
    (package / "NOTES.md").write_text("mine\n")
    capsys.readouterr()

    assert scaffold(tmp_path, "criterion", "nll_sum") == 2
    assert "seqlab-criterions-nll-sum already exists; pass --force" in _one_line_error(capsys)
    assert plugin.read_text() == "# edited\n"

    assert scaffold(tmp_path, "criterion", "nll_sum", "--force") == 0
    assert plugin.read_text() == original
    assert (package / "NOTES.md").read_text() == "mine\n"  # files it does not write are left alone
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging folder left


@pytest.mark.parametrize(
    "args, message",
    [
        (["model", "my-model"], "NAME 'my-model' is not a Python identifier; .* \\(e.g. my_model\\)"),
        (["model", "2gram"], "NAME '2gram' is not a Python identifier; .* \\(e.g. my_2gram\\)"),
        (["criterion", "class"], "NAME 'class' is not a Python identifier"),
        (["task", "translation"], "a task named 'translation' is already installed \\(from seqlab-tasks\\)"),
        (["task", "data"], "module seqlab.tasks.data already exists"),
        (["optimizer", "fast", "--dist", "bad name"], "--dist 'bad name' is not a valid distribution name"),
    ],
)
def test_bad_names_fail_in_one_line_with_exit_2(args, message, tmp_path, capsys):
    assert scaffold(tmp_path, *args) == 2
    assert re.search(message, _one_line_error(capsys))
    assert list(tmp_path.iterdir()) == []


def test_dist_names_the_folder_and_the_distribution(tmp_path):
    assert scaffold(tmp_path, "lr_scheduler", "warm_exp", "--dist", "acme-seqlab-schedules") == 0
    project = tomllib.loads((tmp_path / "acme-seqlab-schedules" / "pyproject.toml").read_text())["project"]
    assert project["name"] == "acme-seqlab-schedules"
    assert project["entry-points"]["seqlab.lr_schedulers"] == {"warm_exp": "seqlab.optim.warm_exp"}
