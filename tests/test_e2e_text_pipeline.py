"""--tokenizer moses --bpe subword_nmt: a model trained on Moses-tokenized, BPE-split text, used on raw text.

The data is prepared outside seq-preprocess, as fairseq's recipes do (Moses tokenizer, then
subword-nmt codes), and binarized as whitespace tokens. ``seq-interactive`` must encode raw
input lines the same way, and both inference tools must print ``D-`` (and ``T-``) lines with
the BPE removed and the Moses tokenization undone.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest

from seqlab.cli.generate import main as generate
from seqlab.cli.interactive import main as interactive
from seqlab.cli.preprocess import main as preprocess

sacremoses = pytest.importorskip("sacremoses", reason="--tokenizer moses needs seqlab-tasks[moses]")

RAW = [
    "The cat's apple, said the dog.",
    "An apple (or two) for the cat!",
    '"Dogs" eat apples - cats don\'t.',
    "The apple-cat sat.",
]
# the text is English on both sides, whatever the data's language codes (en, de) say
ENGLISH = ["--moses-source-lang", "en", "--moses-target-lang", "en"]
CODES = ["#version: 0.2", "a p", "ap p", "l e</w>", "c a", "ca t</w>", "t h", "th e</w>"]


def _prepare(line: str, codes: str) -> str:
    from seqlab.tasks.subword_bpe import SubwordBpe

    # as fairseq's moses tokenizer does by default: dashes split off, special characters escaped
    moses = sacremoses.MosesTokenizer(lang="en")
    tokenized = moses.tokenize(line, aggressive_dash_splits=True, return_str=True, escape=True)
    return SubwordBpe(codes).encode(tokenized)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A tiny model trained for a few updates on the prepared text; the codes; the data."""
    root = tmp_path_factory.mktemp("pipeline")
    codes = root / "codes.txt"
    codes.write_text("\n".join(CODES) + "\n", encoding="utf-8")
    prepared = [_prepare(line, str(codes)) for line in RAW]
    for split in ("train", "valid", "test"):
        for lang in ("en", "de"):
            (root / f"{split}.{lang}").write_text("\n".join(prepared) + "\n", encoding="utf-8")
    argv = ["-s", "en", "-t", "de", "--joined-dictionary", "--destdir", str(root / "bin")]
    argv += [f"--{s}pref" for s in ("train",)] + [str(root / "train")]
    argv += ["--validpref", str(root / "valid"), "--testpref", str(root / "test")]
    assert preprocess(argv) == 0
    model = [*("--arch", "transformer", "--encoder-layers", "1", "--decoder-layers", "1")]
    model += [*("--encoder-embed-dim", "16", "--decoder-embed-dim", "16", "--encoder-ffn-embed-dim", "16")]
    model += [
        *("--decoder-ffn-embed-dim", "16", "--encoder-attention-heads", "1", "--decoder-attention-heads", "1")
    ]
    train = [*("--optimizer", "adam", "--lr", "0.001", "--criterion", "cross_entropy", "--max-tokens", "200")]
    train += [*("--max-update", "2", "--cpu", "--save-dir", str(root / "ckpt"), "--no-epoch-checkpoints")]
    proc = subprocess.run(
        [sys.executable, "-m", "seqlab.cli.train", str(root / "bin"), *model, *train],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return root, str(codes), prepared


def _lines(out: str, tag: str) -> list[str]:
    return [line.split("\t")[-1] for line in out.splitlines() if line.startswith(f"{tag}-")]


def test_interactive_encodes_raw_text_and_prints_plain_text(run, capsys, monkeypatch):
    root, codes, prepared = run
    flags = ["--tokenizer", "moses", "--bpe", "subword_nmt", "--bpe-codes", codes, *ENGLISH]
    monkeypatch.setattr("sys.stdin", io.StringIO("".join(line + "\n" for line in RAW)))
    argv = ["--path", str(root / "ckpt" / "checkpoint_last.pt"), "--beam", "2", "--max-len-b", "5", *flags]
    assert interactive([*argv, "--buffer-size", "4", "--batch-size", "4", "--cpu"]) == 0
    out = capsys.readouterr().out
    assert _lines(out, "S") == prepared  # the model read what training read
    assert "<unk>" not in " ".join(_lines(out, "S"))
    tokenizer = sacremoses.MosesDetokenizer(lang="en")
    for hypothesis, detok in zip(_lines(out, "H"), _lines(out, "D")):
        assert detok == tokenizer.detokenize((hypothesis + " ").replace("@@ ", "").split())


def test_generate_prints_references_and_hypotheses_as_plain_text(run, capsys):
    root, codes, _ = run
    flags = ["--tokenizer", "moses", "--bpe", "subword_nmt", "--bpe-codes", codes, *ENGLISH]
    argv = [str(root / "bin"), "--path", str(root / "ckpt" / "checkpoint_last.pt"), "--beam", "2", "--cpu"]
    assert generate([*argv, "--max-len-b", "5", *flags]) == 0
    out = capsys.readouterr().out
    assert sorted(_lines(out, "T")) == sorted(RAW)  # tokenization and BPE undone
    assert len(_lines(out, "D")) == len(RAW)


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--bpe", "subword_nmt"], "--bpe subword_nmt needs its codes: add --bpe-codes FILE"),
        (["--bpe-codes", "codes.txt"], "--bpe-codes is read by --bpe; add --bpe subword_nmt"),
        (["--bpe", "sentencepiece"], "--bpe sentencepiece needs its model: add --sentencepiece-model FILE"),
        (["--bpe", "fastbpe"], "--bpe fastbpe needs its codes: add --bpe-codes FILE"),
        (["--bpe", "byte_bpe"], "--bpe byte_bpe needs its model: add --sentencepiece-model-path FILE"),
        (
            ["--sentencepiece-model-path", "m.model"],
            "--sentencepiece-model-path is read by --bpe; add --bpe byte_bpe",
        ),
    ],
)
def test_incomplete_text_flags_are_one_line_errors(run, capsys, flags, message):
    root, _, _ = run
    assert generate([str(root / "bin"), "--path", str(root / "ckpt" / "checkpoint_last.pt"), *flags]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_an_external_sentencepiece_model_splits_input_and_a_bad_one_is_named(
    run, tmp_path, capsys, monkeypatch
):
    from seqlab.tasks.sentencepiece_model import SentencePieceModel

    root, _, _ = run
    ckpt = str(root / "ckpt" / "checkpoint_last.pt")
    spm = SentencePieceModel.train([line for line in RAW for _ in range(20)], vocab_size=320)
    spm.save(str(tmp_path / "spm.model"))
    monkeypatch.setattr("sys.stdin", io.StringIO("The cat sat.\n"))
    flags = ["--bpe", "sentencepiece", "--sentencepiece-model", str(tmp_path / "spm.model")]
    assert interactive(["--path", ckpt, "--beam", "2", "--max-len-b", "3", "--cpu", *flags]) == 0
    source = _lines(capsys.readouterr().out, "S")[0]
    pieces = spm.encode("The cat sat.")
    assert len(source.split()) == len(pieces) != 3  # the model read the line's pieces, not its words
    (tmp_path / "bad.model").write_text("not a model", encoding="utf-8")
    flags[-1] = str(tmp_path / "bad.model")
    assert generate([str(root / "bin"), "--path", ckpt, *flags]) == 2
    assert "--sentencepiece-model: " in capsys.readouterr().err
