"""seq-interactive: raw text in, hypotheses out, from nothing but the checkpoint."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest

import seqlab.tasks.language_modeling  # noqa: F401  (registered once, outside the tests' isolated registries)
import seqlab.tasks.translation  # noqa: F401
from seqlab.cli.generate import main as generate
from seqlab.cli.interactive import main
from seqlab.core import import_user_dir
from seqlab.core.testing import isolated_plugins

TOYS = str(Path(__file__).with_name("generation_toys"))
with isolated_plugins():  # the helpers only; each test imports the user dir as it needs
    toys = import_user_dir(TOYS)

GEN = ["--user-dir", TOYS, "--beam", "3", "--nbest", "2", "--max-len-b", "8"]


def _by_id(text: str) -> dict[str, dict[int, list[str]]]:
    found: dict[str, dict[int, list[str]]] = {}
    for line in text.splitlines():
        head, _, rest = line.partition("\t")
        kind, _, sid = head.partition("-")
        if sid.isdigit():
            found.setdefault(kind, {}).setdefault(int(sid), []).append(rest)
    return found


def _checkpoint(tmp_path: Path, data: Path, **kwargs) -> str:
    path = tmp_path / "toy.pt"
    with isolated_plugins():
        import_user_dir(TOYS).write_checkpoint(path, data, **kwargs)
    return str(path)


def test_interactive_translates_like_generate_after_the_data_is_deleted(tmp_path, capsys):
    data = toys.translation_data(tmp_path / "data")
    ckpt = _checkpoint(tmp_path, data)
    assert generate([str(data), "--path", ckpt, *GEN, "--batch-size", "5"]) == 0
    generated = _by_id(capsys.readouterr().out)
    shutil.rmtree(tmp_path / "data")
    (tmp_path / "input.txt").write_text("".join(s + "\n" for s in toys.TEST_SRC), encoding="utf-8")

    assert main(["--path", ckpt, *GEN, "--input", str(tmp_path / "input.txt")]) == 0
    answered = _by_id(capsys.readouterr().out)
    assert sorted(answered["S"]) == list(range(len(toys.TEST_SRC)))
    for i, source in enumerate(toys.TEST_SRC):
        (gen_id,) = [k for k, v in generated["S"].items() if v == [source]]
        assert [h.split("\t")[1] for h in answered["D"][i]] == [
            h.split("\t")[1] for h in generated["D"][gen_id]
        ]
        got = [float(h.split("\t")[0]) for h in answered["H"][i]]
        assert got == pytest.approx([float(h.split("\t")[0]) for h in generated["H"][gen_id]], abs=1e-5)
        for got_p, want_p in zip(answered["P"][i], generated["P"][gen_id]):
            want = [float(x) for x in want_p.split()]
            assert [float(x) for x in got_p.split()] == pytest.approx(want, abs=2e-4)
        assert answered["W"][i][0].endswith("\tseconds")


def test_stdin_is_read_a_buffer_at_a_time(tmp_path, capsys, monkeypatch):
    ckpt = _checkpoint(tmp_path, toys.translation_data(tmp_path / "data"))
    lines = ["the dog", "a cat runs", "ünï", "", "big house today"]
    monkeypatch.setattr("sys.stdin", io.StringIO("".join(s + "\n" for s in lines)))
    assert main(["--path", ckpt, *GEN, "--buffer-size", "2", "--batch-size", "2"]) == 0
    out = capsys.readouterr().out
    answered = _by_id(out)
    assert sorted(answered["S"]) == [0, 1, 2, 3, 4]
    assert [len(answered["H"][i]) for i in range(5)] == [2] * 5
    # each buffer is printed whole before the next: ids come in order
    order = [int(line.split("\t")[0][2:]) for line in out.splitlines() if line.startswith("S-")]
    assert order == [0, 1, 2, 3, 4]


def test_a_language_model_continues_each_prompt(tmp_path, capsys):
    data = toys.lm_data(tmp_path / "data")
    ckpt = _checkpoint(tmp_path, data, task="language_modeling", arch="toy_lm")
    shutil.rmtree(data)
    (tmp_path / "prompts.txt").write_text("the small dog\ncat\n", encoding="utf-8")
    assert main(["--path", ckpt, *GEN, "--input", str(tmp_path / "prompts.txt")]) == 0
    answered = _by_id(capsys.readouterr().out)
    for i, prompt in enumerate(["the small dog", "cat"]):
        assert answered["S"][i] == [prompt]
        for hypo in answered["H"][i]:
            assert hypo.split("\t")[1].startswith(prompt)


def test_print_alignment_with_a_language_model_fails_before_reading_input(tmp_path, capsys):
    ckpt = _checkpoint(tmp_path, toys.lm_data(tmp_path / "data"), task="language_modeling", arch="toy_lm")
    (tmp_path / "prompts.txt").write_text("the small dog\n", encoding="utf-8")
    argv = ["--path", ckpt, *GEN, "--input", str(tmp_path / "prompts.txt"), "--print-alignment"]
    assert main(argv) == 1
    _, err = capsys.readouterr()
    assert "Traceback" not in err
    assert "error: --print-alignment needs an encoder-decoder model" in err.splitlines()[-1]


def test_a_batch_larger_than_the_buffer_is_refused(tmp_path, capsys):
    ckpt = _checkpoint(tmp_path, toys.translation_data(tmp_path / "data"))
    assert main(["--path", ckpt, *GEN, "--batch-size", "4", "--buffer-size", "2"]) == 2
    assert "--batch-size 4 is larger than --buffer-size 2" in capsys.readouterr().err
