"""CONFIG-A data: one joint sentencepiece BPE model, the spm-encoded text, and both binarized copies.

Everything lands in .bench-cache/data-<fingerprint of the corpus>/ and is reused while the
corpus files stay the same. The corpus itself is only read, never copied into the repository.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from .config import CACHE, LANGS, SPLITS, SPM_PIECES


@dataclass(frozen=True)
class Prepared:
    """Where the prepared CONFIG-A data lies."""

    raw: Path  # the corpus as given (--data)
    spm_model: Path
    encoded: Path  # spm pieces, one sentence a line: {split}.{lang}
    seqlab_bin: Path
    fairseq_bin: Path
    #: where row 5 translates ``test`` from: the full binaries, or (--quick) the first few sentences
    seqlab_gen_bin: Path
    fairseq_gen_bin: Path


def check_corpus(raw: Path) -> None:
    """Fail with a clear message when a corpus file is missing."""
    missing = [
        f"{p}.{lang}" for p in SPLITS.values() for lang in LANGS if not (raw / f"{p}.{lang}").is_file()
    ]
    if missing:
        raise SystemExit(f"the corpus in {raw} lacks {', '.join(missing)} (point --data at Multi30k)")


def workdir_for(raw: Path) -> Path:
    """The cache folder of this corpus: named by the corpus files' sizes and modification times."""
    h = hashlib.sha1()
    for prefix in SPLITS.values():
        for lang in LANGS:
            st = (raw / f"{prefix}.{lang}").stat()
            h.update(f"{prefix}.{lang}:{st.st_size}:{st.st_mtime_ns};".encode())
    return CACHE / f"data-{h.hexdigest()[:12]}"


def train_spm(raw: Path, model: Path) -> None:
    """Train the joint 8,000-piece BPE model on train.en + train.de (once; the file is the cache)."""
    import sentencepiece as spm

    model.parent.mkdir(parents=True, exist_ok=True)
    spm.SentencePieceTrainer.train(
        input=",".join(str(raw / f"{SPLITS['train']}.{lang}") for lang in LANGS),
        model_prefix=str(model.with_suffix("")),
        vocab_size=SPM_PIECES,
        model_type="bpe",
        character_coverage=1.0,
        num_threads=2,
        minloglevel=2,
    )


def encode_corpus(raw: Path, model: Path, dest: Path) -> None:
    """Write every split in spm pieces joined by spaces, the text both preprocessors binarize."""
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_file=str(model))
    dest.mkdir(parents=True, exist_ok=True)
    for split, prefix in SPLITS.items():
        for lang in LANGS:
            lines = (raw / f"{prefix}.{lang}").read_text(encoding="utf-8").splitlines()
            pieces = sp.encode(lines, out_type=str)
            (dest / f"{split}.{lang}").write_text(
                "".join(" ".join(p) + "\n" for p in pieces), encoding="utf-8"
            )


def preprocess_argv(tool: str, encoded: Path, dest: Path, workers: int = 2) -> list[str]:
    """The fairseq-preprocess / seq-preprocess command line for the encoded text (same flags)."""
    argv = [tool, "--source-lang", "en", "--target-lang", "de", "--joined-dictionary"]
    argv += [f"--{split}pref={encoded / split}" for split in SPLITS]
    return argv + ["--destdir", str(dest), "--workers", str(workers)]


def prepare(
    raw: Path, seq_bin: Path, fairseq_bin: Path | None, env: dict[str, str], small_test: int = 0
) -> Prepared:
    """Build whatever is missing of the CONFIG-A data and return where it lies.

    With ``small_test``, generation gets a test split of only that many first sentences
    (binarized with the full dictionaries), for smoke tests.
    """
    from .report import step

    check_corpus(raw)
    work = workdir_for(raw)
    small = work / f"test{small_test}"
    p = Prepared(
        raw=raw,
        spm_model=work / "spm" / "spm8000.model",
        encoded=work / "spm-text",
        seqlab_bin=work / "bin-seqlab",
        fairseq_bin=work / "bin-fairseq",
        seqlab_gen_bin=(small if small_test else work) / "bin-seqlab",
        fairseq_gen_bin=(small if small_test else work) / "bin-fairseq",
    )
    if not p.spm_model.is_file():
        with step(f"training the joint sentencepiece BPE model ({SPM_PIECES} pieces)"):
            train_spm(raw, p.spm_model)
    if not (p.encoded / "test.de").is_file():
        with step("encoding the corpus with the sentencepiece model"):
            encode_corpus(raw, p.spm_model, p.encoded)
    tools = [("seqlab", seq_bin / "seq-preprocess", p.seqlab_bin, p.seqlab_gen_bin)]
    if fairseq_bin is not None:
        tools.append(("fairseq", fairseq_bin / "fairseq-preprocess", p.fairseq_bin, p.fairseq_gen_bin))
    for name, tool, dest, gen_dest in tools:
        if not (dest / "test.en-de.de.idx").is_file():
            with step(f"binarizing the encoded corpus for {name}"):
                _binarize(preprocess_argv(str(tool), p.encoded, dest), dest, env)
        if gen_dest != dest and not (gen_dest / "test.en-de.de.idx").is_file():
            with step(f"binarizing the first {small_test} test sentences for {name}"):
                text = _first_lines(p.encoded, small / "text", small_test)
                argv = [str(tool), "--source-lang", "en", "--target-lang", "de", "--joined-dictionary"]
                argv += ["--srcdict", str(dest / "dict.en.txt"), f"--testpref={text / 'test'}"]
                _binarize(argv + ["--destdir", str(gen_dest)], gen_dest, env)
    return p


def _binarize(argv: list[str], dest: Path, env: dict[str, str]) -> None:
    from . import procs

    procs.run(argv, env=env, log=dest / "preprocess").check()


def _first_lines(encoded: Path, dest: Path, n: int) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for lang in LANGS:
        lines = (encoded / f"test.{lang}").read_text(encoding="utf-8").splitlines(keepends=True)[:n]
        (dest / f"test.{lang}").write_text("".join(lines), encoding="utf-8")
    return dest
