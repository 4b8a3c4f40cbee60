"""Time seq-preprocess on Multi30k train+valid+test: sentencepiece 8000, joined dictionary, 2 workers.

The baseline is the same run with 1 worker, in the same invocation; each run is
a fresh ``seq-preprocess`` process, so start-up is included. Lines per second
count every input line of both languages. Sentencepiece trains in one thread
(so outputs do not depend on --workers); the workers share the counting and
binarizing.

    python bench/bench_preprocess.py [--repeat N]
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MULTI30K = REPO.parent / "shared" / "data" / "multi30k"
SPLITS = {"train": "train", "valid": "val", "test": "test_2016_flickr"}


def _count_lines() -> int:
    return sum(
        (MULTI30K / f"{prefix}.{lang}").read_bytes().count(b"\n")
        for prefix in SPLITS.values()
        for lang in ("en", "de")
    )


def _run(
    dest: Path, workers: int, reuse: Path | None = None, trainpref: Path | None = None
) -> tuple[float, float]:
    """Run seq-preprocess; return the wall time and the sentencepiece training time it logged.

    With ``reuse``, the model and dictionary of an earlier run are reused and only ``trainpref`` is binarized.
    """
    argv = [sys.executable, "-m", "seqlab.cli.preprocess", "-s", "en", "-t", "de"]
    argv += [
        "--destdir",
        str(dest),
        "--joined-dictionary",
        "--workers",
        str(workers),
        "--bpe",
        "sentencepiece",
    ]
    if reuse is None:
        argv += [f"--{split}pref={MULTI30K / prefix}" for split, prefix in SPLITS.items()]
        argv += ["--spm-vocab-size", "8000"]
    else:
        argv += [f"--trainpref={trainpref}", "--spm-model", str(reuse / "sentencepiece.model")]
        argv += ["--srcdict", str(reuse / "dict.en.txt")]
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"seq-preprocess failed:\n{done.stderr}")
    trained = re.search(r"sentencepiece: \d+ pieces in ([\d.]+)s", done.stderr)
    return seconds, float(trained.group(1)) if trained else float("nan")


def main() -> None:
    """Run the 1-worker baseline and the 2-worker run, print times, lines/s and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per setting; the fastest counts")
    opts = parser.parse_args()
    if not MULTI30K.is_dir():
        raise SystemExit(f"needs Multi30k at {MULTI30K} (../shared/data/multi30k beside the repository)")
    lines = _count_lines()
    work = Path(tempfile.mkdtemp(prefix="bench-preprocess-"))
    try:
        runs: dict[int, list[tuple[float, float]]] = {1: [], 2: []}
        for k in range(opts.repeat):  # interleaved, so that load from other processes hits both alike
            for workers in (1, 2):
                runs[workers].append(_run(work / f"w{workers}-{k}", workers))
        best = {}
        for workers, results in runs.items():
            wall, spm = min(results)
            best[workers] = wall
            print(
                f"workers={workers}: {wall:.2f} s (runs: {', '.join(f'{t:.2f}' for t, _ in results)}; "
                f"sentencepiece training {spm:.2f} s of it), {lines / wall:,.0f} lines/s over {lines:,} lines"
            )
        same = all((work / "w1-0" / f.name).read_bytes() == f.read_bytes() for f in (work / "w2-0").iterdir())
        print(f"speed-up 2 workers / 1 worker: {best[1] / best[2]:.2f}x; identical outputs: {same}")

        # binarizing alone, on Multi30k train repeated 10x, shows what --workers does for large inputs
        big = work / "big"
        for lang in ("en", "de"):
            (work / f"big.{lang}").write_bytes((MULTI30K / f"train.{lang}").read_bytes() * 10)
        big_lines = 10 * sum((MULTI30K / f"train.{lang}").read_bytes().count(b"\n") for lang in ("en", "de"))
        walls: dict[int, list[float]] = {1: [], 2: []}
        for k in range(opts.repeat):
            for workers in (1, 2):
                walls[workers].append(_run(work / f"b{workers}-{k}", workers, work / "w1-0", big)[0])
        for workers, times in walls.items():
            print(
                f"binarize only, train x10, workers={workers}: {min(times):.2f} s, "
                f"{big_lines / min(times):,.0f} lines/s over {big_lines:,} lines"
            )
        print(f"binarize-only speed-up 2 workers / 1 worker: {min(walls[1]) / min(walls[2]):.2f}x")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
