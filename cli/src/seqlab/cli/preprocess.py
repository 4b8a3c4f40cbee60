"""seq-preprocess: raw text to dictionaries, a sentencepiece model and memory-mapped binarized splits.

fairseq's flags, plus ``--bpe sentencepiece`` with ``--spm-vocab-size N`` (train a
model on the training text) or ``--spm-model PATH`` (reuse one). Everything is
written to a temporary folder inside ``--destdir`` and moved into place only
when every file is complete, so a failure leaves nothing half written.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from seqlab.core import ConfigError, SeqlabError
from seqlab.core.dictionary import Dictionary
from seqlab.core.entry import run_tool
from seqlab.core.options import ToolSpec, parse
from seqlab.tasks.binarizer import (
    BinarizeJob,
    BinarizeStats,
    Chunk,
    binarize_files,
    build_dictionary,
    count_tokens,
    read_lines,
)
from seqlab.tasks.sentencepiece_model import MODEL_FILENAME, SentencePieceModel

PROG = "seq-preprocess"
#: seconds between progress lines when stderr is not a terminal
LOG_INTERVAL = 10.0


def add_args(parser: argparse.ArgumentParser) -> None:
    """Add seq-preprocess's flags (fairseq's names)."""
    g = parser.add_argument_group("preprocessing")
    g.add_argument("-s", "--source-lang", metavar="SRC", default=None, help="source language")
    g.add_argument("-t", "--target-lang", metavar="TGT", default=None, help="target language")
    g.add_argument("--trainpref", metavar="FP", default=None, help="train file prefix (FP.SRC, FP.TGT)")
    g.add_argument("--validpref", metavar="FP", default=None, help="comma-separated valid file prefixes")
    g.add_argument("--testpref", metavar="FP", default=None, help="comma-separated test file prefixes")
    g.add_argument("--destdir", metavar="DIR", default="data-bin", help="destination directory")
    g.add_argument("--only-source", action="store_true", help="binarize only the source (monolingual text)")
    g.add_argument("--joined-dictionary", action="store_true", help="one dictionary for both languages")
    g.add_argument("--srcdict", metavar="FP", default=None, help="reuse this source dictionary")
    g.add_argument("--tgtdict", metavar="FP", default=None, help="reuse this target dictionary")
    g.add_argument(
        "--thresholdsrc", metavar="N", type=int, default=0, help="drop source words seen fewer than N times"
    )
    g.add_argument(
        "--thresholdtgt", metavar="N", type=int, default=0, help="drop target words seen fewer than N times"
    )
    g.add_argument("--nwordssrc", metavar="N", type=int, default=-1, help="source dictionary size (-1: all)")
    g.add_argument("--nwordstgt", metavar="N", type=int, default=-1, help="target dictionary size (-1: all)")
    g.add_argument(
        "--padding-factor", metavar="N", type=int, default=8, help="pad dictionary size to a multiple of N"
    )
    g.add_argument("--dict-only", action="store_true", help="write the dictionaries and stop")
    g.add_argument("--workers", metavar="N", type=int, default=1, help="number of parallel processes")
    s = parser.add_argument_group("sentencepiece")
    s.add_argument("--bpe", choices=["sentencepiece"], default=None, help="subword-segment the raw text")
    s.add_argument(
        "--spm-vocab-size",
        metavar="N",
        type=int,
        default=None,
        help="train a model of N pieces; 256 of them are byte pieces for characters it has not seen, "
        "so N must leave room above 256 for the text's own pieces",
    )
    s.add_argument("--spm-model", metavar="FP", default=None, help="reuse this sentencepiece .model")
    s.add_argument(
        "--spm-model-type", choices=["unigram", "bpe"], default="unigram", help="sentencepiece algorithm"
    )
    s.add_argument(
        "--spm-character-coverage",
        metavar="F",
        type=float,
        default=0.9995,
        help="share of characters the pieces cover (the rest fall back to UTF-8 bytes)",
    )


SPEC = ToolSpec(
    prog=PROG,
    description="Build dictionaries (and a sentencepiece model) and binarize raw text for seqlab.",
    add_args=add_args,
)


@dataclass(frozen=True)
class Job:
    """One input file and the binarized split it becomes."""

    split: str
    lang: str | None
    path: str
    out_name: str


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``seq-preprocess``."""
    return run_tool(PROG, _main, argv)


def _main(argv: list[str]) -> int:
    cfg = parse(SPEC, argv)
    args = cfg.args
    if args.print_config:
        print(cfg.format())
        return 0
    _check(args)
    jobs = _jobs(args)
    for job in jobs:
        if not os.path.isfile(job.path):
            raise SeqlabError(f"input file {job.path} does not exist (the {job.split} split{_of(job.lang)})")
    created = not os.path.isdir(args.destdir)
    os.makedirs(args.destdir, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".seq-preprocess-", dir=args.destdir)
    try:
        stats = _run(args, jobs, tmp)
        for name in sorted(os.listdir(tmp)):
            os.replace(os.path.join(tmp, name), os.path.join(args.destdir, name))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if created and not os.listdir(args.destdir):
            os.rmdir(args.destdir)
    _print_summary(stats, args.destdir)
    return 0


def _check(args: argparse.Namespace) -> None:
    if args.only_source:
        args.target_lang = None
    elif args.source_lang is None or args.target_lang is None:
        raise ConfigError(
            "--source-lang and --target-lang are required for parallel text; "
            "pass --only-source for monolingual (language-model) text"
        )
    if args.workers < 1:
        raise ConfigError(f"--workers must be at least 1, not {args.workers}")
    if args.joined_dictionary and args.srcdict and args.tgtdict:
        raise ConfigError("--joined-dictionary takes --srcdict or --tgtdict, not both")
    needs_train = not args.srcdict or (
        not args.only_source and not args.tgtdict and not args.joined_dictionary
    )
    if needs_train and not args.trainpref:
        raise ConfigError(
            "--trainpref is required to build the dictionaries (or pass --srcdict and --tgtdict)"
        )
    if args.bpe is None:
        if args.spm_vocab_size is not None or args.spm_model is not None:
            raise ConfigError("--spm-vocab-size and --spm-model need --bpe sentencepiece")
        return
    if (args.spm_vocab_size is None) == (args.spm_model is None):
        raise ConfigError(
            "--bpe sentencepiece needs exactly one of --spm-vocab-size N (train) or --spm-model PATH"
        )
    if args.spm_vocab_size is not None:
        if args.spm_vocab_size < 1:
            raise ConfigError(f"--spm-vocab-size must be positive, not {args.spm_vocab_size}")
        if not args.trainpref:
            raise ConfigError("--spm-vocab-size trains on the training text: pass --trainpref")


def _langs(args: argparse.Namespace) -> list[str | None]:
    return [args.source_lang] if args.only_source else [args.source_lang, args.target_lang]


def _input_path(prefix: str, lang: str | None) -> str:
    return f"{prefix}.{lang}" if lang is not None else prefix


def _out_name(args: argparse.Namespace, split: str, lang: str | None) -> str:
    if lang is None:
        return split
    return f"{split}.{args.source_lang}-{args.target_lang}.{lang}"


def _dict_name(lang: str | None) -> str:
    return "dict.txt" if lang is None else f"dict.{lang}.txt"


def _jobs(args: argparse.Namespace) -> list[Job]:
    splits: list[tuple[str, str]] = []
    if args.trainpref:
        splits.append(("train", args.trainpref))
    for name, prefs in (("valid", args.validpref), ("test", args.testpref)):
        for k, pref in enumerate(p for p in (prefs or "").split(",") if p):
            splits.append((name if k == 0 else f"{name}{k}", pref))
    return [
        Job(split, lang, _input_path(pref, lang), _out_name(args, split, lang))
        for split, pref in splits
        for lang in _langs(args)
    ]


def _of(lang: str | None) -> str:
    return f", language {lang}" if lang is not None else ""


def _run(args: argparse.Namespace, jobs: list[Job], tmp: str) -> list[tuple[Job, BinarizeStats]]:
    train = {job.lang: job.path for job in jobs if job.split == "train"}
    spm = _sentencepiece(args, list(train.values()), tmp)
    dicts = _dictionaries(args, train, spm)
    for lang, d in dicts.items():
        d.save(os.path.join(tmp, _dict_name(lang)))
        _log(f"[{lang or 'text'}] dictionary: {len(d)} types")
    if args.dict_only:
        return []
    work = [BinarizeJob(job.path, os.path.join(tmp, job.out_name), job.lang) for job in jobs]
    total = sum(os.path.getsize(job.path) for job in jobs)
    with _Progress("binarizing", None, total) as progress:
        stats = binarize_files(work, dicts, spm, args.workers, progress)
    return list(zip(jobs, stats))


def _sentencepiece(args: argparse.Namespace, train_files: list[str], tmp: str) -> SentencePieceModel | None:
    if args.bpe is None:
        return None
    if args.spm_model is not None:
        spm = SentencePieceModel.load(args.spm_model)
    else:
        _log(
            f"training a {args.spm_model_type} sentencepiece model of {args.spm_vocab_size} pieces on "
            f"{', '.join(train_files)}"
        )
        start = time.monotonic()
        lines = (line for path in train_files for line in read_lines(Chunk(path, 0, os.path.getsize(path))))
        spm = SentencePieceModel.train(
            lines,
            vocab_size=args.spm_vocab_size,
            model_type=args.spm_model_type,
            character_coverage=args.spm_character_coverage,
            # one thread: with more, the model (and so every output) would depend on --workers
            num_threads=1,
        )
        _log(f"sentencepiece: {len(spm)} pieces in {time.monotonic() - start:.1f}s")
    spm.save(os.path.join(tmp, MODEL_FILENAME))
    return spm


def _dictionaries(
    args: argparse.Namespace, train: dict[str | None, str], spm: SentencePieceModel | None
) -> dict[str | None, Dictionary]:
    src, tgt = args.source_lang, args.target_lang

    def build(langs: list[str | None], threshold: int, nwords: int) -> Dictionary:
        paths = [train[lang] for lang in langs]
        total = sum(os.path.getsize(p) for p in paths)
        with _Progress(f"[{'+'.join(str(lang) for lang in langs)}] counting tokens", None, total) as progress:
            counts = count_tokens(paths, spm, args.workers, progress)
        return build_dictionary(counts, spm, threshold, nwords, args.padding_factor)

    if args.only_source:
        d = Dictionary.load(args.srcdict) if args.srcdict else build([src], args.thresholdsrc, args.nwordssrc)
        return {src: d}
    if args.joined_dictionary:
        given = args.srcdict or args.tgtdict
        d = Dictionary.load(given) if given else build([src, tgt], args.thresholdsrc, args.nwordssrc)
        return {src: d, tgt: d}
    src_dict = (
        Dictionary.load(args.srcdict) if args.srcdict else build([src], args.thresholdsrc, args.nwordssrc)
    )
    tgt_dict = (
        Dictionary.load(args.tgtdict) if args.tgtdict else build([tgt], args.thresholdtgt, args.nwordstgt)
    )
    return {src: src_dict, tgt: tgt_dict}


def _print_summary(results: list[tuple[Job, BinarizeStats]], destdir: str) -> None:
    rows = [("split", "lang", "sentences", "tokens", "<unk>")]
    for job, s in results:
        rows.append(
            (job.split, job.lang or "-", f"{s.sentences:,}", f"{s.tokens:,}", f"{100 * s.unk_rate:.2f}%")
        )
    if len(rows) > 1:
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        for r in rows:
            print("  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))))
    print(f"wrote {destdir}")


def _log(message: str, stream: TextIO | None = None) -> None:
    print(f"{PROG}: {message}", file=stream or sys.stderr, flush=True)


class _Progress:
    """Bytes of input done: a bar on a terminal, a line every :data:`LOG_INTERVAL` seconds otherwise."""

    def __init__(self, label: str, path: str | None, total: int | None = None) -> None:
        self.label = label
        self.total = total if total is not None else os.path.getsize(path or "")
        self.done = 0
        self.lines = 0
        self._bar: Any = None
        self._last = time.monotonic()

    def __enter__(self) -> _Progress:
        if sys.stderr.isatty():
            from tqdm import tqdm

            self._bar = tqdm(
                total=self.total, desc=self.label, unit="B", unit_scale=True, leave=False, file=sys.stderr
            )
        return self

    def __call__(self, nbytes: int, nlines: int) -> None:
        self.done += nbytes
        self.lines += nlines
        if self._bar is not None:
            self._bar.update(nbytes)
            self._bar.set_postfix(lines=f"{self.lines:,}", refresh=False)
        elif time.monotonic() - self._last >= LOG_INTERVAL:
            self._last = time.monotonic()
            pct = 100.0 * self.done / self.total if self.total else 100.0
            _log(f"{self.label}: {pct:.0f}% ({self.lines:,} lines)")

    def __exit__(self, *exc: Any) -> None:
        if self._bar is not None:
            self._bar.close()
        if exc[0] is None:
            _log(f"{self.label}: done, {self.lines:,} lines")


if __name__ == "__main__":
    sys.exit(main())
