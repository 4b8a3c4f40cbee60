"""Every release loads the checkpoints of earlier releases (issue 9, item 4).

``tests/fixtures/checkpoint_format<N>.pt`` was written by the release that introduced format N
(``tests/fixtures/make_checkpoint_fixture.py``). A later release must still translate with it as it
did then, and resume training from it, or migrate it with a message: these tests keep that promise.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from seqlab.core.checkpoint_io import FORMAT_VERSION, load_checkpoint_file

FIXTURES = Path(__file__).parent / "fixtures"
CHECKPOINTS = sorted(FIXTURES.glob("checkpoint_format*.pt"))


def _records(text: str) -> dict[str, list[str]]:
    return {line.split("\t", 1)[0]: line.split("\t")[1:] for line in text.splitlines() if line[:2] != "W-"}


def test_a_fixture_exists_for_the_current_format():
    assert FIXTURES / f"checkpoint_format{FORMAT_VERSION}.pt" in CHECKPOINTS, (
        "a new checkpoint format needs its fixture: python tests/fixtures/make_checkpoint_fixture.py"
    )


@pytest.mark.parametrize("path", CHECKPOINTS, ids=lambda p: p.stem)
def test_old_checkpoint_loads_as_plain_data(path):
    state = load_checkpoint_file(str(path))
    assert state["format_version"] <= FORMAT_VERSION
    assert state["config"]["arch"] == "transformer" and state["trainer"]["num_updates"] == 300


@pytest.mark.parametrize("path", CHECKPOINTS, ids=lambda p: p.stem)
def test_old_checkpoint_translates_as_when_it_was_made(path):
    proc = subprocess.run(
        [sys.executable, "-m", "seqlab.cli.interactive", "--path", str(path), "--beam", "2"],
        input=(FIXTURES / "checkpoint_compat_input.txt").read_text(),
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    got, then = _records(proc.stdout), _records(path.with_suffix(".interactive.txt").read_text())
    assert got.keys() == then.keys()
    for key, fields in then.items():
        if key[:2] in ("S-", "H-", "D-"):
            assert got[key][-1] == fields[-1], key  # the text itself
        if key[:2] in ("H-", "P-"):
            scores = [float(x) for x in " ".join(fields[:1] if key[:2] == "H-" else fields).split()]
            now = [float(x) for x in " ".join(got[key][:1] if key[:2] == "H-" else got[key]).split()]
            assert now == pytest.approx(scores, abs=2e-3), key


@pytest.mark.parametrize("path", CHECKPOINTS, ids=lambda p: p.stem)
def test_training_resumes_from_an_old_checkpoint(path, tmp_path):
    maker = _maker()
    state = load_checkpoint_file(str(path))
    symbols = state["task_state"]["source_dictionary"]
    dictionary = tmp_path / "dict.txt"
    pairs = list(zip(symbols["symbols"], symbols["counts"], strict=True))[symbols["nspecial"] :]
    dictionary.write_text("".join(f"{word} {count}\n" for word, count in pairs))
    raw, data = tmp_path / "raw", tmp_path / "bin"
    raw.mkdir()
    lines = "".join(line + "\n" for line in ["apple bird", "cat dog egg", "fish goat hat"] * 10)
    for split in ("train", "valid"):
        for lang in ("src", "tgt"):
            (raw / f"{split}.{lang}").write_text(lines)
    prep = ["-s", "src", "-t", "tgt", "--srcdict", str(dictionary), "--joined-dictionary"]
    prep += ["--trainpref", str(raw / "train"), "--validpref", str(raw / "valid"), "--destdir", str(data)]
    assert _run("preprocess", *prep).returncode == 0
    save = tmp_path / "save"
    save.mkdir()
    shutil.copy(path, save / "checkpoint_last.pt")
    proc = _run(
        "train", str(data), *maker.TRAINING, *maker.MODEL, "--save-dir", str(save), "--max-update", "305"
    )
    assert proc.returncode == 0, proc.stderr
    assert "resumed from" in proc.stdout
    resumed = load_checkpoint_file(str(save / "checkpoint_last.pt"))
    assert resumed["trainer"]["num_updates"] == 305 and resumed["format_version"] == FORMAT_VERSION


def _run(module: str, *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", f"seqlab.cli.{module}", *argv], capture_output=True, text=True
    )


def _maker():
    """The fixture maker, whose training flags the resumed run repeats."""
    spec = importlib.util.spec_from_file_location(
        "make_checkpoint_fixture", FIXTURES / "make_checkpoint_fixture.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
