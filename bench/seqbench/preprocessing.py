"""Row 6: raw text to binarized splits with an existing sentencepiece model.

seqlab: one ``seq-preprocess --bpe sentencepiece --spm-model M`` process. Baseline: encode with
the sentencepiece Python API (a process of its own), then ``fairseq-preprocess`` on the pieces;
its time is the sum of both. Same worker count on both sides.
"""

from __future__ import annotations

import shutil

from . import procs
from .config import SPLITS
from .data import Prepared, preprocess_argv
from .plan import Plan
from .report import say
from .results import Row, Target, median
from .toolkits import Toolkit, bench_env, bench_module_argv


def preprocessing_row(plan: Plan, seq: Toolkit, fs: Toolkit, data: Prepared) -> Row:
    """Interleaved runs of both pipelines; the row compares their wall times (lower is better)."""
    workers = str(plan.threads)
    row = Row("6", "preprocessing, raw text → binary", "s", Target("<=", 1 / 3, text="≥ 3× faster (≤ 0.33×)"))
    times: dict[str, list[float]] = {"seqlab": [], "fairseq": [], "spm encode": [], "fairseq-preprocess": []}
    rounds = (["warmup"] if plan.warmup else []) + [str(r + 1) for r in range(plan.reps)]
    for rep in rounds:
        out = plan.work / "preprocess" / rep
        shutil.rmtree(out, ignore_errors=True)
        argv = [seq.tool("preprocess"), "--source-lang", "en", "--target-lang", "de", "--joined-dictionary"]
        argv += [f"--{split}pref={data.raw / prefix}" for split, prefix in SPLITS.items()]
        argv += ["--destdir", str(out / "seqlab"), "--workers", workers]
        argv += ["--bpe", "sentencepiece", "--spm-model", str(data.spm_model)]
        say(f"preprocessing: run {rep} ...")
        s = procs.run(argv, seq.env(plan.threads), log=out / "seqlab").check()
        enc = procs.run(
            bench_module_argv("spm_encode", str(data.spm_model), str(data.raw), str(out / "pieces")),
            bench_env(plan.threads),
        ).check()
        f = procs.run(
            preprocess_argv(fs.tool("preprocess"), out / "pieces", out / "fairseq", plan.threads),
            fs.env(plan.threads),
            log=out / "fairseq",
        ).check()
        say(f"preprocessing: run {rep}: seqlab {s.wall_s:.1f} s, "
            f"spm encode {enc.wall_s:.1f} s + fairseq-preprocess {f.wall_s:.1f} s")  # fmt: skip
        if rep != "warmup":
            times["seqlab"].append(s.wall_s)
            times["fairseq"].append(enc.wall_s + f.wall_s)
            times["spm encode"].append(enc.wall_s)
            times["fairseq-preprocess"].append(f.wall_s)
        shutil.rmtree(out, ignore_errors=True)
    row.seqlab, row.baseline = median(times["seqlab"]), median(times["fairseq"])
    row.raw = times
    row.baseline_name = "spm + fairseq"
    row.note = f"{workers} workers each; baseline = spm encode (python API) + fairseq-preprocess"
    return row
