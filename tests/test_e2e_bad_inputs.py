"""The catalogue of bad inputs: each tool, given something wrong, says so in one line naming the cause
and the fix, exits non-zero (or carries on where that is right), and damages no file already on disk.

Every case runs the real tool in a subprocess, all of them concurrently against one small binarized
data set and one tiny trained checkpoint (issue 9, item 1).
"""

from __future__ import annotations

import os
import random
import re
import resource
import shutil
import signal
import struct
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import pytest
import torch

MODULES = {
    "seq-preprocess": "preprocess",
    "seq-train": "train",
    "seq-generate": "generate",
    "seq-interactive": "interactive",
    "seq-eval-lm": "eval_lm",
    "seq-validate": "validate",
    "seq-plugins": "plugins",
    "seq-import-fairseq": "import_fairseq",
}
FAIRSEQ_CHECKPOINT = Path(__file__).parent / "fixtures" / "fairseq" / "checkpoint"
WORDS = "apple bird cat dog egg fish goat hat".split()
MODEL = [
    *("--arch", "transformer", "--encoder-layers", "1", "--decoder-layers", "1"),
    *("--encoder-embed-dim", "16", "--decoder-embed-dim", "16", "--encoder-ffn-embed-dim", "16"),
    *("--decoder-ffn-embed-dim", "16", "--encoder-attention-heads", "1", "--decoder-attention-heads", "1"),
]
TRAIN = [
    *("--task", "translation", "--optimizer", "adam", "--lr", "0.001"),
    *("--criterion", "cross_entropy", "--max-tokens", "200", "--max-update", "2", "--cpu"),
    *("--no-epoch-checkpoints", "--seed", "1"),
]
# Small models run fastest on one thread, and the cases run side by side
ONE_THREAD = {**os.environ, "OMP_NUM_THREADS": "1"}
# Log records are allowed on stderr; anything else there must be the single error line
LOG_RECORD = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \| [A-Z]+ \| ")


@dataclass
class Case:
    """One bad input: ``argv`` may name the world's paths as ``{bin}``, ``{ck}``, ``{case}``..."""

    id: str
    tool: str
    argv: list[str]
    expect: str  # a substring of the error line (of stdout when the tool rightly carries on)
    code: int
    untouched: list[str] = field(default_factory=list)  # files or folders, as placeholders
    resume: str | None = None  # a checkpoint (placeholder) copied to {case}/save/checkpoint_last.pt
    stdin: bytes = b""
    absent: list[str] = field(default_factory=list)  # paths that must not appear
    file_size_limit: int | None = None  # bytes: a write past it fails as on a full disk
    env: dict[str, str] = field(default_factory=dict)  # more environment, values as placeholders


def _train(*argv: str) -> list[str]:
    """A training command line (data dir first) that would run if nothing else were wrong."""
    return [*argv, *TRAIN, *MODEL]


def _resume(*argv: str, data: str = "{bin}", model: tuple[str, ...] = tuple(MODEL)) -> list[str]:
    """Training into {case}/save, which already holds the case's checkpoint: it must survive the error."""
    return [data, *TRAIN, *model, "--save-dir", "{case}/save", *argv]


CASES = [
    # -- seq-preprocess ------------------------------------------------------------------------------
    Case(
        "preprocess-missing-input",
        "seq-preprocess",
        ["-s", "src", "-t", "tgt", "--trainpref", "{raw}/nothere", "--destdir", "{case}/out"],
        "nothere.src does not exist",
        1,
    ),
    Case(
        "preprocess-language-pair-not-there",
        "seq-preprocess",
        ["-s", "src", "-t", "de", "--trainpref", "{raw}/train", "--destdir", "{case}/out"],
        "train.de does not exist",
        1,
        untouched=["{raw}"],
    ),
    Case(
        "preprocess-non-utf8-line",
        "seq-preprocess",
        ["-s", "src", "-t", "tgt", "--trainpref", "{raw}/latin1", "--destdir", "{case}/out"],
        "is not UTF-8",
        1,
        untouched=["{raw}"],
    ),
    Case(
        "preprocess-missing-srcdict",
        "seq-preprocess",
        ["-s", "src", "-t", "tgt", "--trainpref", "{raw}/train", "--destdir", "{case}/out"]
        + ["--srcdict", "{raw}/nodict.txt"],
        "dictionary file",
        1,
    ),
    Case(
        "preprocess-typo-flag",
        "seq-preprocess",
        ["-s", "src", "-t", "tgt", "--trainpref", "{raw}/train", "--destdri", "{case}/out"],
        "did you mean --destdir",
        2,
    ),
    # -- seq-train: data -----------------------------------------------------------------------------
    Case(
        "train-missing-data-dir", "seq-train", _train("{root}/nowhere"), "does not exist; seq-preprocess", 1
    ),
    Case("train-empty-data-dir", "seq-train", _train("{empty}"), "cannot infer --source-lang", 1),
    Case(
        "train-language-pair-not-there",
        "seq-train",
        _train("{bin}", "-s", "de", "-t", "en"),
        "dict.de.txt does not exist",
        1,
        untouched=["{bin}"],
    ),
    Case(
        "train-truncated-bin",
        "seq-train",
        _train("{short_bin}"),
        "one is truncated",
        1,
        untouched=["{short_bin}"],
    ),
    Case(
        "train-truncated-idx-header",
        "seq-train",
        _train("{short_idx_header}"),
        "is truncated",
        1,
        untouched=["{short_idx_header}"],
    ),
    Case("train-truncated-idx", "seq-train", _train("{short_idx}"), "it is truncated or corrupt", 1),
    Case(
        "train-idx-points-past-bin",
        "seq-train",
        _train("{past_bin}"),
        "is corrupt: its sentence lengths add up to",
        1,
    ),
    Case(
        "train-dictionary-not-of-the-data",
        "seq-train",
        _train("{small_dict}"),
        "binarized with a dictionary of 16 symbols",
        1,
        untouched=["{small_dict}"],
    ),
    Case(
        "train-example-longer-than-max-positions",
        "seq-train",
        [*_train("{bin}"), "--max-source-positions", "4", "--save-dir", "{case}/save"],
        "more than the max positions",
        1,
    ),
    Case(
        "train-ema-seed-without-an-average",
        "seq-train",
        [*_train("{bin}"), "--store-ema", "--ema-seed-model", "{ck}", "--save-dir", "{case}/save"],
        "holds no moving average; give a checkpoint of a run with --store-ema",
        2,
        untouched=["{ck}"],
        absent=["{case}/save/checkpoint_last.pt"],
    ),
    Case(
        "train-compile-without-a-compiler",
        "seq-train",
        [*_train("{bin}"), "--compile", "--save-dir", "{case}/save"],
        "--compile: torch.compile could not compile the model (InvalidCxxCompiler",
        1,
        absent=["{case}/save/checkpoint_last.pt"],
        # a fresh kernel cache, so that no kernel compiled by another test is found
        env={"CXX": "{case}/no-such-compiler", "TORCHINDUCTOR_CACHE_DIR": "{case}/inductor-cache"},
    ),
    Case(
        "valid-example-longer-than-max-positions",
        "seq-train",
        [*_train("{bin}"), "--max-source-positions", "10", "--save-dir", "{case}/save"],
        "more than the max positions (10, 1024) (1 examples are too long)",  # the 12-word valid line
        1,
    ),
    Case(
        "valid-example-too-long-skipped-on-request",  # carrying on is right: the user asked for it
        "seq-train",
        [*_train("{bin}"), "--max-source-positions", "10", "--skip-invalid-size-inputs-valid-test"]
        + ["--save-dir", "{case}/save"],
        "done training",
        0,
    ),
    Case(
        "max-tokens-below-longest-example",
        "seq-train",
        [*_train("{bin}"), "--max-tokens", "3", "--save-dir", "{case}/save"],
        "raise --max-tokens",
        1,
    ),
    # -- seq-train: options and plugins --------------------------------------------------------------
    *(
        Case(f"unknown-{flag[2:]}", "seq-train", [*_train("{bin}"), flag, bad], f"did you mean {good}", 2)
        for flag, bad, good in [
            ("--arch", "transformr", "transformer"),
            ("--task", "translaton", "translation"),
            ("--criterion", "cross_entropi", "cross_entropy"),
            ("--optimizer", "adamm", "adam"),
            ("--lr-scheduler", "inverse_sqr", "inverse_sqrt"),
        ]
    ),
    Case(
        "train-typo-flag", "seq-train", [*_train("{bin}"), "--max-updat", "3"], "did you mean --max-update", 2
    ),
    Case(
        "train-layerdrop-of-one",
        "seq-train",
        [*_train("{bin}"), "--encoder-layerdrop", "1"],
        "--encoder-layerdrop must be at least 0 and below 1, not 1.0",
        2,
    ),
    Case(
        "train-missing-embed-path",
        "seq-train",
        [*_train("{bin}"), "--encoder-embed-path", "{root}/vectors.txt"],
        "--encoder-embed-path: cannot read",
        2,
    ),
    Case(
        "train-adaptive-cutoff-past-dictionary",
        "seq-train",
        [*_train("{bin}"), "--adaptive-softmax-cutoff", "20000,60000"],
        "--adaptive-softmax-cutoff 20000,60000 goes past the dictionary's",
        2,
    ),
    Case(
        "train-adaptive-loss-without-adaptive-softmax",
        "seq-train",
        [*_train("{bin}"), "--criterion", "adaptive_loss", "--save-dir", "{case}/save"],
        "--criterion adaptive_loss needs a model with an adaptive softmax",
        2,
        absent=["{case}/save/checkpoint_last.pt"],
    ),
    Case(
        "train-eval-bleu-detok-args-unknown-key",
        "seq-train",
        [
            *_train("{bin}"),
            "--eval-bleu",
            "--eval-bleu-detok",
            "moses",
            "--eval-bleu-detok-args",
            '{{"lang": "de"}}',
        ],
        "--eval-bleu-detok-args: unknown key 'lang' for moses",
        2,
    ),
    Case(
        "malformed-json-config",
        "seq-train",
        [*_train("{bin}"), "--config", "{raw}/bad.json"],
        "not valid JSON",
        2,
    ),
    Case(
        "malformed-toml-config",
        "seq-train",
        [*_train("{bin}"), "--config", "{raw}/bad.toml"],
        "not valid TOML",
        2,
    ),
    Case(
        "user-dir-missing",
        "seq-train",
        [*_train("{bin}"), "--user-dir", "{root}/nowhere"],
        "no such directory",
        2,
    ),
    Case(
        "user-dir-without-init",
        "seq-train",
        [*_train("{bin}"), "--user-dir", "{user_noinit}"],
        "__init__.py is missing",
        2,
        untouched=["{user_noinit}"],
    ),
    Case(
        "user-dir-syntax-error",
        "seq-train",
        [*_train("{bin}"), "--user-dir", "{user_syntax}"],
        "SyntaxError",
        2,
        untouched=["{user_syntax}"],
    ),
    Case(
        "user-dir-clashing-name",
        "seq-train",
        [*_train("{bin}"), "--user-dir", "{user_clash}"],
        "two different criterions are registered as 'cross_entropy'",
        2,
    ),
    # -- seq-train: checkpoints and save dir ---------------------------------------------------------
    Case(
        "resume-truncated-checkpoint",
        "seq-train",
        _resume(),
        "truncated or corrupt",
        1,
        untouched=["{case}/save"],
        resume="{truncated}",
    ),
    Case(
        "resume-checkpoint-of-another-arch",
        "seq-train",
        _resume(model=("--arch", "lstm")),
        "trained with --arch transformer, not lstm",
        1,
        untouched=["{case}/save"],
        resume="{ck}",
    ),
    Case(
        "resume-checkpoint-of-other-model-options",
        "seq-train",
        [*_resume(), "--encoder-embed-dim", "32"],
        "does not fit this model",
        1,
        untouched=["{case}/save"],
        resume="{ck}",
    ),
    Case(
        "resume-checkpoint-of-another-dictionary",
        "seq-train",
        _resume(data="{other_bin}"),
        "another source dictionary",
        1,
        untouched=["{case}/save"],
        resume="{ck}",
    ),
    Case(
        "resume-checkpoint-of-newer-format",
        "seq-train",
        _resume(),
        "format version 99, newer than",
        1,
        untouched=["{case}/save"],
        resume="{newer}",
    ),
    Case(
        "resume-checkpoint-with-pickle-payload",
        "seq-train",
        _resume(),
        "not plain data",
        1,
        untouched=["{case}/save"],
        resume="{evil}",
        absent=["{root}/pwned"],
    ),
    Case(
        "save-dir-not-creatable",
        "seq-train",
        [*_train("{bin}"), "--save-dir", "{raw}/train.src/save"],
        "cannot be created",
        1,
        untouched=["{raw}"],
    ),
    Case(
        "disk-fills-during-save",
        "seq-train",
        [*_resume(), "--max-update", "4"],
        "free some disk space or choose another --save-dir",
        1,
        untouched=["{case}/save"],
        resume="{ck}",
        file_size_limit=4096,
    ),
    Case(
        "loss-becomes-nan",
        "seq-train",
        [*_resume(), "--max-update", "5", "--user-dir", "{user_nan}", "--criterion", "nan_loss"],
        "non-finite loss",
        1,
        untouched=["{case}/save"],
        resume="{ck}",
    ),
    # -- seq-generate ----------------------------------------------------------------------------------
    Case(
        "generate-missing-data-dir", "seq-generate", ["{root}/nowhere", "--path", "{ck}"], "does not exist", 1
    ),
    Case(
        "generate-missing-split",
        "seq-generate",
        ["{bin}", "--path", "{ck}", "--gen-subset", "tst"],
        "binarize the tst split",
        1,
    ),
    Case(
        "generate-ema-weights-without-average",
        "seq-generate",
        ["{bin}", "--path", "{ck}", "--ema-weights"],
        "holds no moving average; train with --store-ema, or drop the flag",
        2,
    ),
    Case(
        "generate-bpe-without-codes",
        "seq-generate",
        ["{bin}", "--path", "{ck}", "--bpe", "subword_nmt"],
        "--bpe subword_nmt needs its codes: add --bpe-codes FILE",
        2,
    ),
    Case("generate-truncated-checkpoint", "seq-generate", ["{bin}", "--path", "{truncated}"], "truncated", 1),
    Case(
        "generate-path-not-a-checkpoint",
        "seq-generate",
        ["{bin}", "--path", "{bin}/dict.src.txt"],
        "not a checkpoint at all",
        1,
    ),
    Case("generate-newer-checkpoint", "seq-generate", ["{bin}", "--path", "{newer}"], "format version 99", 1),
    Case(
        "generate-pickle-payload",
        "seq-generate",
        ["{bin}", "--path", "{evil}"],
        "not plain data",
        1,
        untouched=["{evil}"],
        absent=["{root}/pwned"],
    ),
    Case(
        "generate-typo-flag",
        "seq-generate",
        ["{bin}", "--path", "{ck}", "--beem", "2"],
        "did you mean --beam",
        2,
    ),
    Case(
        "generate-data-of-another-dictionary",
        "seq-generate",
        ["{other_bin}", "--path", "{ck}"],
        "dictionary",
        1,
    ),
    Case(
        "generate-shard-out-of-range",
        "seq-generate",
        ["{bin}", "--path", "{ck}", "--num-shards", "2", "--shard-id", "2"],
        "--shard-id 2 must be from 0 to --num-shards - 1 (1)",
        2,
    ),
    Case(
        "generate-lm-weight-without-lm",
        "seq-generate",
        ["{bin}", "--path", "{ck}", "--lm-weight", "0.3"],
        "--lm-weight needs --lm-path",
        2,
    ),
    Case(
        "generate-translation-model-as-lm",
        "seq-generate",
        ["{bin}", "--path", "{ck}", "--lm-path", "{ck}", "--lm-weight", "0.3"],
        "is an encoder-decoder model (--arch transformer); fuse a language model",
        1,
    ),
    Case(
        "generate-missing-replace-unk-file",
        "seq-generate",
        ["{bin}", "--path", "{ck}", "--replace-unk", "{root}/table.txt"],
        "--replace-unk: cannot read",
        2,
    ),
    # -- seq-interactive -----------------------------------------------------------------------------
    Case("interactive-truncated-checkpoint", "seq-interactive", ["--path", "{truncated}"], "truncated", 1),
    Case(
        "interactive-non-utf8-input",  # carrying on is right: the bad bytes become <unk>
        "seq-interactive",
        ["--path", "{ck}"],
        "S-0\tapple <unk> bird",
        0,
        stdin=b"apple \xff bird\n",
    ),
    # -- seq-eval-lm -----------------------------------------------------------------------------------
    Case("eval-lm-translation-checkpoint", "seq-eval-lm", ["{bin}", "--path", "{ck}"], "use seq-generate", 1),
    # -- seq-validate ----------------------------------------------------------------------------------
    Case(
        "validate-missing-split",
        "seq-validate",
        ["{bin}", "--path", "{ck}", "--valid-subset", "valid,tst"],
        "binarize the tst split",
        1,
    ),
    # -- seq-plugins -----------------------------------------------------------------------------------
    Case("plugins-unknown-name", "seq-plugins", ["describe", "transformr"], "did you mean transformer", 2),
    Case(
        "plugins-user-dir-clash",
        "seq-plugins",
        ["--user-dir", "{user_clash}"],
        "two different criterions are registered as 'cross_entropy'",
        2,
    ),
    Case("plugins-typo-flag", "seq-plugins", ["--usr-dir", "x"], "did you mean --user-dir?", 2),
    Case("plugins-unknown-command", "seq-plugins", ["lst"], "invalid choice: 'lst'", 2),
    # -- seq-import-fairseq ----------------------------------------------------------------------------
    Case(
        "import-fairseq-missing-checkpoint",
        "seq-import-fairseq",
        ["{root}/nowhere.pt", "-o", "{case}/out.pt"],
        "nowhere.pt does not exist; check the path",
        1,
        absent=["{case}/out.pt"],
    ),
    Case(
        "import-fairseq-seqlab-checkpoint",
        "seq-import-fairseq",
        ["{ck}", "-o", "{case}/out.pt"],
        "is already a seqlab checkpoint; use it as it is",
        1,
        absent=["{case}/out.pt"],
    ),
    Case(
        "import-fairseq-pickled-code",
        "seq-import-fairseq",
        ["{evil}", "-o", "{case}/out.pt"],
        "holds objects that are not plain data (GLOBAL posix.system); refusing to unpickle them",
        1,
        absent=["{root}/pwned", "{case}/out.pt"],
    ),
    Case(
        "import-fairseq-without-data",
        "seq-import-fairseq",
        ["{fairseq_ck}/checkpoint_last.pt", "-o", "{case}/out.pt"],
        "--data is required: the data directory with the dictionaries of",
        2,
        absent=["{case}/out.pt"],
    ),
    Case(
        "import-fairseq-other-dictionaries",
        "seq-import-fairseq",
        ["{fairseq_ck}/checkpoint_last.pt", "--data", "{small_dict}", "-o", "{case}/out.pt"],
        "check that --data holds the dictionaries fairseq trained with",
        1,
        absent=["{case}/out.pt"],
    ),
]


def _write(path: Path, lines: list[str]) -> None:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def _sentences(rng: random.Random, n: int, words: list[str]) -> list[str]:
    return [" ".join(rng.choice(words) for _ in range(rng.randint(2, 6))) for _ in range(n)]


def _preprocess(raw: Path, dest: Path, prefix: str = "") -> None:
    argv = ["-s", "src", "-t", "tgt", "--destdir", str(dest), "--joined-dictionary"]
    for split in ("train", "valid", "test"):
        argv += [f"--{split}pref", str(raw / f"{prefix}{split}")]
    proc = subprocess.run(
        [sys.executable, "-m", "seqlab.cli.preprocess", *argv], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr


def _copy_with(src: Path, dest: Path, name: str, edit) -> Path:
    shutil.copytree(src, dest)
    (dest / name).write_bytes(edit((src / name).read_bytes()))
    return dest


def _user_dir(root: Path, name: str, init: str | None) -> Path:
    folder = root / name
    folder.mkdir()
    if init is None:
        (folder / "plugin.py").write_text("X = 1\n")
    else:
        (folder / "__init__.py").write_text(init)
    return folder


class Payload:
    """Unpickling this runs code: a checkpoint must never be loaded in a way that allows it."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict[str, str]:
    """The shared data, checkpoints, corrupted copies and user dirs that the cases name."""
    root = tmp_path_factory.mktemp("bad_inputs")
    raw = root / "raw"
    raw.mkdir()
    rng = random.Random(0)
    valid = _sentences(rng, 9, WORDS) + [" ".join(WORDS + WORDS[:4])]  # 12 words: longer than any train line
    for split, lines in (
        ("train", _sentences(rng, 60, WORDS)),
        ("valid", valid),
        ("test", _sentences(rng, 10, WORDS)),
    ):
        for lang in ("src", "tgt"):
            _write(raw / f"{split}.{lang}", lines)
    # Another vocabulary, padded to the same dictionary size as the first
    other = [w.upper() for w in WORDS[:7]]
    for split in ("train", "valid", "test"):
        for lang in ("src", "tgt"):
            _write(raw / f"other{split}.{lang}", _sentences(rng, 10, other))
    for lang in ("src", "tgt"):
        (raw / f"latin1.{lang}").write_bytes("apple bird\ncafé cat\n".encode("latin-1"))
    (raw / "bad.json").write_text('{"lr": \n')
    (raw / "bad.toml").write_text("lr = [\n")

    bin_, other_bin = root / "bin", root / "other_bin"
    _preprocess(raw, bin_)
    _preprocess(raw, other_bin, prefix="other")
    save = root / "ck"
    proc = subprocess.run(
        [sys.executable, "-m", "seqlab.cli.train", str(bin_), *TRAIN, *MODEL, "--save-dir", str(save)]
        + ["--max-source-positions", "16", "--max-target-positions", "16"],
        capture_output=True,
        text=True,
        env=ONE_THREAD,
    )
    assert proc.returncode == 0, proc.stderr
    ck = save / "checkpoint_last.pt"

    state = torch.load(ck, weights_only=True)
    state["format_version"] = 99
    torch.save(state, root / "newer.pt")
    torch.save({"model": Payload(root / "pwned")}, root / "evil.pt")
    (root / "truncated.pt").write_bytes(ck.read_bytes()[:3000])
    (root / "empty").mkdir()

    idx = "train.src-tgt.src.idx"
    n = struct.unpack_from("<Q", (bin_ / idx).read_bytes(), 16)[0]

    def longer_last(data: bytes) -> bytes:  # the last sentence's length runs past the .bin's end
        at = 40 + 8 * n + 4 * (n - 1)
        return data[:at] + struct.pack("<i", 10_000) + data[at + 4 :]

    small = _copy_with(bin_, root / "small_dict", "dict.src.txt", lambda d: b"".join(d.splitlines(True)[:8]))
    shutil.copy(small / "dict.src.txt", small / "dict.tgt.txt")
    return {
        "root": str(root),
        "raw": str(raw),
        "bin": str(bin_),
        "other_bin": str(other_bin),
        "empty": str(root / "empty"),
        "ck": str(ck),
        "newer": str(root / "newer.pt"),
        "evil": str(root / "evil.pt"),
        "truncated": str(root / "truncated.pt"),
        "short_bin": str(_copy_with(bin_, root / "short_bin", "train.src-tgt.src.bin", lambda d: d[:50])),
        "short_idx_header": str(_copy_with(bin_, root / "short_idx_header", idx, lambda d: d[:30])),
        "short_idx": str(_copy_with(bin_, root / "short_idx", idx, lambda d: d[:200])),
        "past_bin": str(_copy_with(bin_, root / "past_bin", idx, longer_last)),
        "small_dict": str(small),
        "fairseq_ck": str(FAIRSEQ_CHECKPOINT),
        "user_noinit": str(_user_dir(root, "user_noinit", None)),
        "user_syntax": str(_user_dir(root, "user_syntax", "x = (\n")),
        "user_clash": str(
            _user_dir(
                root,
                "user_clash",
                "from seqlab.core import Criterion, register_criterion\n\n\n"
                '@register_criterion("cross_entropy")\nclass Mine(Criterion):\n    pass\n',
            )
        ),
        "user_nan": str(
            _user_dir(
                root,
                "user_nan",
                "from seqlab.core import register_criterion\n"
                "from seqlab.criterions.cross_entropy import CrossEntropyCriterion\n\n\n"
                '@register_criterion("nan_loss")\nclass NanLoss(CrossEntropyCriterion):\n'
                "    def forward(self, model, sample, reduce=True):\n"
                "        loss, size, log = super().forward(model, sample, reduce)\n"
                '        loss = loss * float("nan")\n'
                '        return loss, size, {**log, "loss": loss.detach()}\n',
            )
        ),
    }


def _snapshot(path: Path) -> dict[str, tuple[bytes, int]]:
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    return {str(p): (p.read_bytes(), p.stat().st_mtime_ns) for p in files}


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str
    before: dict[str, tuple[bytes, int]]
    after: dict[str, tuple[bytes, int]]


def _limit_file_size(limit: int) -> None:
    """In the child: writes past ``limit`` bytes fail with EFBIG instead of killing it with SIGXFSZ."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def _run(case: Case, world: dict[str, str]) -> Outcome:
    folder = Path(world["root"]) / "cases" / case.id
    folder.mkdir(parents=True)
    names = {**world, "case": str(folder)}
    if case.resume:
        (folder / "save").mkdir()
        shutil.copy(case.resume.format(**names), folder / "save" / "checkpoint_last.pt")
    before = {k: v for p in case.untouched for k, v in _snapshot(Path(p.format(**names))).items()}
    proc = subprocess.run(
        [sys.executable, "-m", f"seqlab.cli.{MODULES[case.tool]}", *(a.format(**names) for a in case.argv)],
        input=case.stdin,
        capture_output=True,
        env={**ONE_THREAD, **{k: v.format(**names) for k, v in case.env.items()}},
        timeout=300,
        cwd=folder,
        preexec_fn=None if case.file_size_limit is None else partial(_limit_file_size, case.file_size_limit),
    )
    after = {k: v for p in case.untouched for k, v in _snapshot(Path(p.format(**names))).items()}
    text = (proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace"))
    return Outcome(proc.returncode, *text, before, after)


@pytest.fixture(scope="module")
def outcomes(world) -> dict[str, Outcome]:
    """Every case's run, side by side: each is mostly an interpreter starting and importing torch."""
    cases = CASES
    with ThreadPoolExecutor(max_workers=(os.cpu_count() or 1) + 1) as pool:
        return dict(zip((c.id for c in cases), pool.map(lambda c: _run(c, world), cases), strict=True))


def test_the_catalogue_is_large_and_its_ids_unique():
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids)) >= 30
    assert {c.tool for c in CASES} == set(MODULES)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_a_bad_input_gets_one_clear_line_and_damages_nothing(case: Case, world, outcomes):
    out = outcomes[case.id]
    assert "Traceback" not in out.stderr, out.stderr
    messages = [line for line in out.stderr.splitlines() if not LOG_RECORD.match(line)]
    if case.code == 0:
        assert out.code == 0, out.stderr
        assert case.expect in out.stdout + out.stderr
        assert not any("error" in line for line in messages), out.stderr
    else:
        assert messages == [messages[0]] and messages[0].startswith(f"{case.tool}: error: "), out.stderr
        assert case.expect in messages[0]
        assert out.code == case.code, out.stderr
    assert out.after == out.before, "a file named untouched was changed or removed"
    names = {**world, "case": str(Path(world["root"]) / "cases" / case.id)}
    assert not [p for p in case.absent if os.path.exists(p.format(**names))]


def test_troubleshooting_doc_has_every_case_with_its_message():
    doc = (Path(__file__).parents[1] / "docs" / "troubleshooting.md").read_text(encoding="utf-8")
    rows = {m.group(1): line for line in doc.splitlines() if (m := re.match(r"\| `([a-z0-9-]+)` \|", line))}
    assert set(rows) == {c.id for c in CASES}, "docs/troubleshooting.md and the catalogue list other cases"
    for case in CASES:
        if case.code != 0:
            assert case.expect in rows[case.id], f"{case.id}: the doc does not quote '{case.expect}'"
