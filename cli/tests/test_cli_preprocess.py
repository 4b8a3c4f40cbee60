"""seq-preprocess: the round trip raw text -> binarized data -> text, fairseq's layout, errors, atomicity."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seqlab.cli.preprocess import main
from seqlab.core.dictionary import Dictionary
from seqlab.tasks.data import IndexedDataset
from seqlab.tasks.sentencepiece_model import MODEL_FILENAME, SentencePieceModel

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
MULTI30K = SHARED / "data" / "multi30k"

BASE_EN = ["A man in an orange hat starring at something.", "Two dogs play in the snow.", ""] * 20
BASE_DE = ["Ein Mann mit einem orangefarbenen Hut.", "Zwei Hunde spielen im Schnee.", ""] * 20


def _write(path: Path, lines: list[str]) -> str:
    path.write_bytes("".join(line + "\n" for line in lines).encode("utf-8"))
    return str(path)


def _decode_split(destdir: Path, name: str, dict_name: str) -> list[str]:
    d = Dictionary.load(str(destdir / dict_name))
    spm = SentencePieceModel.load(str(destdir / MODEL_FILENAME))
    ds = IndexedDataset(str(destdir / name), expected_vocab_size=len(d))
    return [spm.decode(d.string(ds[i])) for i in range(len(ds))]


# Any Unicode line: no "\n" (it ends the line), no lone surrogates (not encodable), and no
# U+2581, sentencepiece's space marker, which decodes as a space (documented limit).
LINE = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\u2581"), max_size=40)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(LINE, min_size=1, max_size=8), model_type=st.sampled_from(["unigram", "bpe"]))
def test_round_trip_of_arbitrary_unicode_lines(tmp_path_factory, lines, model_type):
    tmp = tmp_path_factory.mktemp("rt")
    # the lines appear in training (seen characters) and alone in valid (may hit byte fallback)
    _write(tmp / "train.en", BASE_EN + lines)
    _write(tmp / "train.de", BASE_DE + lines[::-1])
    _write(tmp / "valid.en", lines)
    _write(tmp / "valid.de", lines[::-1])
    dest = tmp / "bin"
    argv = ["-s", "en", "-t", "de", "--trainpref", str(tmp / "train"), "--validpref", str(tmp / "valid")]
    # 8 lines of 40 characters need at most ~330 character pieces plus 256 byte pieces
    argv += ["--destdir", str(dest), "--bpe", "sentencepiece", "--spm-vocab-size", "1000"]
    argv += ["--spm-model-type", model_type, "--joined-dictionary"]
    assert main(argv) == 0
    assert _decode_split(dest, "valid.en-de.en", "dict.en.txt") == lines
    assert _decode_split(dest, "valid.en-de.de", "dict.de.txt") == lines[::-1]
    assert _decode_split(dest, "train.en-de.en", "dict.en.txt") == BASE_EN + lines


def test_layout_summary_and_progress(tmp_path, capsys):
    _write(tmp_path / "train.en", BASE_EN)
    _write(tmp_path / "train.de", BASE_DE)
    _write(tmp_path / "test.en", BASE_EN[:4])
    _write(tmp_path / "test.de", BASE_DE[:4])
    dest = tmp_path / "out"
    argv = [
        "-s",
        "en",
        "-t",
        "de",
        "--trainpref",
        str(tmp_path / "train"),
        "--testpref",
        str(tmp_path / "test"),
    ]
    assert main([*argv, "--destdir", str(dest), "--bpe", "sentencepiece", "--spm-vocab-size", "300"]) == 0
    names = sorted(os.listdir(dest))
    assert names == sorted(
        ["dict.en.txt", "dict.de.txt", MODEL_FILENAME]
        + [
            f"{s}.en-de.{lang}.{ext}"
            for s in ("train", "test")
            for lang in ("en", "de")
            for ext in ("bin", "idx")
        ]
    )
    out, err = capsys.readouterr()
    rows = {tuple(line.split()[:2]): line.split()[2:] for line in out.splitlines()}
    assert rows["train", "en"][:1] == ["60"] and rows["test", "de"][0] == "4"
    assert rows["train", "en"][2] == "0.00%"
    assert "binarizing: done, 128 lines" in err  # 60 + 60 + 4 + 4
    # separate dictionaries: each built from its own language's text
    assert Dictionary.load(str(dest / "dict.en.txt")) != Dictionary.load(str(dest / "dict.de.txt"))


def test_word_level_dictionary_thresholds_and_reuse(tmp_path, capsys):
    _write(tmp_path / "train.en", ["the cat", "the dog", "a cat"])
    _write(tmp_path / "train.de", ["die katze", "der hund", "eine katze"])
    dest = tmp_path / "out"
    prefix = ["-s", "en", "-t", "de", "--trainpref", str(tmp_path / "train")]
    assert main([*prefix, "--destdir", str(dest), "--thresholdsrc", "2", "--nwordstgt", "5"]) == 0
    src = Dictionary.load(str(dest / "dict.en.txt"))
    tgt = Dictionary.load(str(dest / "dict.de.txt"))
    assert src.symbols[4:6] == ["cat", "the"] and "dog" not in src
    assert tgt.symbols[4] == "katze" and len([s for s in tgt.symbols if not s.startswith("madeup")]) == 5
    assert "22.22%" in capsys.readouterr().out  # 2 of 9 English tokens (with </s>) are <unk>
    again = tmp_path / "again"
    argv = [*prefix, "--destdir", str(again), "--srcdict", str(dest / "dict.en.txt")]
    assert main([*argv, "--tgtdict", str(dest / "dict.de.txt")]) == 0
    assert (again / "train.en-de.en.bin").read_bytes() == (dest / "train.en-de.en.bin").read_bytes()


def test_language_model_data_has_fairseqs_names(tmp_path):
    _write(tmp_path / "train.tokens", BASE_EN)
    _write(tmp_path / "valid.tokens", BASE_EN[:5])
    dest = tmp_path / "lm"
    argv = [
        "--only-source",
        "--trainpref",
        str(tmp_path / "train.tokens"),
        "--validpref",
        str(tmp_path / "valid.tokens"),
    ]
    assert main([*argv, "--destdir", str(dest)]) == 0
    assert sorted(os.listdir(dest)) == ["dict.txt", "train.bin", "train.idx", "valid.bin", "valid.idx"]
    _write(tmp_path / "mono.en", BASE_EN)
    assert (
        main(["--only-source", "-s", "en", "--trainpref", str(tmp_path / "mono"), "--destdir", str(dest)])
        == 0
    )
    assert (dest / "train.en-None.en.idx").is_file() and (dest / "dict.en.txt").is_file()


def test_parallel_workers_give_identical_files(tmp_path, monkeypatch):
    import seqlab.tasks.binarizer as binarizer

    monkeypatch.setattr(binarizer, "CHUNK_BYTES", 256)
    _write(tmp_path / "train.en", BASE_EN * 3)
    _write(tmp_path / "train.de", BASE_DE * 3)
    outputs = []
    for workers in ("1", "2"):
        dest = tmp_path / f"w{workers}"
        argv = ["-s", "en", "-t", "de", "--trainpref", str(tmp_path / "train"), "--destdir", str(dest)]
        argv += [
            "--bpe",
            "sentencepiece",
            "--spm-vocab-size",
            "300",
            "--joined-dictionary",
            "--workers",
            workers,
        ]
        assert main(argv) == 0
        outputs.append({n: (dest / n).read_bytes() for n in os.listdir(dest) if n != MODEL_FILENAME})
    assert outputs[0] == outputs[1]


def test_reusing_a_sentencepiece_model(tmp_path):
    _write(tmp_path / "train.en", BASE_EN)
    _write(tmp_path / "train.de", BASE_DE)
    first, second = tmp_path / "first", tmp_path / "second"
    common = ["-s", "en", "-t", "de", "--trainpref", str(tmp_path / "train"), "--bpe", "sentencepiece"]
    assert main([*common, "--destdir", str(first), "--spm-vocab-size", "300"]) == 0
    assert main([*common, "--destdir", str(second), "--spm-model", str(first / MODEL_FILENAME)]) == 0
    assert (first / MODEL_FILENAME).read_bytes() == (second / MODEL_FILENAME).read_bytes()


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["-s", "en", "--trainpref", "x"], 2, "--source-lang and --target-lang are required"),
        (["-s", "en", "-t", "de"], 2, "--trainpref is required"),
        (
            ["-s", "en", "-t", "de", "--trainpref", "x", "--spm-vocab-size", "8"],
            2,
            "need --bpe sentencepiece",
        ),
        (["-s", "en", "-t", "de", "--trainpref", "x", "--bpe", "sentencepiece"], 2, "exactly one of"),
        (["-s", "en", "-t", "de", "--trainpref", "x", "--workers", "0"], 2, "--workers must be at least 1"),
        (["-s", "en", "-t", "de", "--trainpref", "nope"], 1, "input file nope.en does not exist"),
        (["--only-source", "--trainpref", "x", "--bogus"], 2, "unknown option --bogus"),
    ],
)
def test_user_errors_are_one_line(tmp_path, capsys, monkeypatch, argv, code, message):
    monkeypatch.chdir(tmp_path)
    assert main([*argv, "--destdir", str(tmp_path / "d")]) == code
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("seq-preprocess: error: ") and message in err[0]
    assert not (tmp_path / "d").exists()


def test_a_failure_leaves_nothing_half_written(tmp_path, capsys):
    _write(tmp_path / "train.en", BASE_EN)
    _write(tmp_path / "train.de", BASE_DE)
    _write(tmp_path / "valid.en", ["fine"])
    (tmp_path / "valid.de").write_bytes(b"ok\nnot utf-8: \xff\n")
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "dict.en.txt").write_text("previous 1\n")
    argv = [
        "-s",
        "en",
        "-t",
        "de",
        "--trainpref",
        str(tmp_path / "train"),
        "--validpref",
        str(tmp_path / "valid"),
    ]
    assert main([*argv, "--destdir", str(dest)]) == 1
    assert "valid.de: the line at byte 3 is not UTF-8" in capsys.readouterr().err
    assert sorted(os.listdir(dest)) == ["dict.en.txt"]
    assert (dest / "dict.en.txt").read_text() == "previous 1\n"


def test_help_lists_fairseqs_flags(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for flag in (
        "--trainpref",
        "--joined-dictionary",
        "--nwordssrc",
        "--thresholdtgt",
        "--spm-vocab-size",
        "--workers",
    ):
        assert flag in out


@pytest.mark.skipif(not MULTI30K.is_dir(), reason="needs ../shared/data/multi30k beside the repository")
def test_multi30k_sample_round_trips(tmp_path):
    for lang in ("en", "de"):
        lines = (MULTI30K / f"train.{lang}").read_text(encoding="utf-8").split("\n")[:2000]
        _write(tmp_path / f"train.{lang}", lines)
    dest = tmp_path / "bin"
    argv = ["-s", "en", "-t", "de", "--trainpref", str(tmp_path / "train"), "--destdir", str(dest)]
    argv += ["--bpe", "sentencepiece", "--spm-vocab-size", "1000", "--joined-dictionary", "--workers", "2"]
    assert main(argv) == 0
    for lang in ("en", "de"):
        expected = (tmp_path / f"train.{lang}").read_text(encoding="utf-8").split("\n")[:-1]
        assert _decode_split(dest, f"train.en-de.{lang}", f"dict.{lang}.txt") == expected
