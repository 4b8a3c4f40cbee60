"""seqlab against fairseq 0.12 on CONFIG-A: one table of ratios, every figure measured in this run.

Each comparison runs its sides interleaved (round by round, the order rotating), takes the
median of at least 3 runs after an unmeasured warm-up, and prints the raw figures under the
table; the results also go to bench-results/latest.json. Progress goes to stderr.

    python bench/run_bench.py                 # rows 1, 2, 4-8, 10 (about 45 minutes on 2 cores)
    python bench/run_bench.py --long          # adds the BLEU rows 3 and 9, and 5b (about 3 hours more)
    python bench/run_bench.py --quick         # smoke test: a few updates, 1 run, no warm-up
    python bench/run_bench.py --only 1,7 --data /path/to/multi30k

``nox -s bench -- ARGS`` installs seqlab and runs this with ARGS. fairseq (fairseq-fixed
0.12.3.1) is built once into .bench-cache/fairseq-venv and reused.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from seqbench import fairseq_env, quality, table, toolkits  # noqa: E402
from seqbench.config import CACHE, DEFAULT_DATA, RESULTS, default_threads  # noqa: E402
from seqbench.data import prepare  # noqa: E402
from seqbench.plan import Plan  # noqa: E402
from seqbench.report import say, step  # noqa: E402
from seqbench.results import Row  # noqa: E402

ALL_ROWS = [str(n) for n in range(1, 11)]
LONG_ROWS = {"3", "9"}
NEEDS_FAIRSEQ = {"1", "2", "3", "5", "6", "7", "8", "9"}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="smoke test: tiny runs, 1 repetition, no warm-up"
    )
    parser.add_argument(
        "--long", action="store_true", help="also the BLEU rows 3 and 9 (hours), and row 5b on row 3's models"
    )
    parser.add_argument("--only", metavar="ROW[,ROW]", help="only these rows (numbers 1-10)")
    parser.add_argument(
        "--data", type=Path, default=DEFAULT_DATA, help=f"the Multi30k folder (default: {DEFAULT_DATA})"
    )
    parser.add_argument(
        "--threads", type=int, default=default_threads(), help="torch threads for both toolkits"
    )
    parser.add_argument("--reps", type=int, help="measured runs per side (default 3; --quick 1)")
    parser.add_argument("--max-update", type=int, help="updates per training run (default 60; --quick 4)")
    parser.add_argument("--budget-min", type=float, default=30.0, help="row 9's training budget in minutes")
    parser.add_argument(
        "--bf16",
        choices=["auto", "on", "off"],
        default="auto",
        help="row 1b (seq-train --bf16); auto: only on a CPU with native bf16 (avx512_bf16 or amx_bf16)",
    )
    parser.add_argument("--json", type=Path, default=RESULTS / "latest.json", help="where the results go")
    parser.add_argument(
        "--keep-work",
        action="store_true",
        help="keep this run's logs and checkpoints (in .bench-cache/work/)",
    )
    parser.add_argument(
        "--models-from",
        type=Path,
        metavar="WORK",
        help="with --long --only 3: instead of training row 3's models, time row 5b on those an earlier "
        "--long --keep-work run kept in the work folder WORK (row 3 itself is then not reported)",
    )
    return parser.parse_args(argv)


def make_plan(opts: argparse.Namespace) -> Plan:
    """Turn the options into a plan."""
    rows = set(ALL_ROWS) if not opts.only else {r.strip() for r in opts.only.split(",") if r.strip()}
    unknown = rows - set(ALL_ROWS)
    if unknown:
        raise SystemExit(f"unknown row(s) {', '.join(sorted(unknown))}; rows are 1-10")
    if not opts.long:
        rows -= LONG_ROWS
    if opts.reps is not None and opts.reps < 1:
        raise SystemExit("--reps must be at least 1")
    if opts.models_from is not None:
        if not opts.long or rows != {"3"}:
            raise SystemExit("--models-from needs --long --only 3 (it times row 5b on kept row-3 models)")
        missing = [str(p) for p in quality.kept_models(opts.models_from).values() if not p.is_file()]
        if missing:
            raise SystemExit(f"--models-from {opts.models_from}: no {', '.join(missing)}; pass a work folder "
                             "kept by a --long --keep-work run")  # fmt: skip
    quick = opts.quick
    max_update = opts.max_update or (4 if quick else 60)
    log_interval = 2 if quick else 10
    if max_update < 2 * log_interval:
        raise SystemExit(f"--max-update must be at least {2 * log_interval}: the first interval is warm-up")
    return Plan(
        rows=frozenset(rows),
        threads=opts.threads,
        reps=opts.reps or (1 if quick else 3),
        warmup=not quick,
        max_update=max_update,
        log_interval=log_interval,
        skip_updates=min(2 if quick else 20, max_update - log_interval),
        # one folder per invocation, so that two runs at once never share checkpoints or logs
        work=CACHE / "work" / f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}",
        quick=quick,
        long=opts.long,
        budget_min=opts.budget_min,
        keep_work=opts.keep_work,
        models_from=opts.models_from,
        **_bf16_choice(opts.bf16),
    )


def _bf16_choice(choice: str) -> dict:
    """Whether to run row 1b: emulated bf16 matmuls are several times slower than fp32 ones."""
    if choice != "auto":
        return {"bf16": choice == "on", "bf16_why": f"--bf16 {choice}"}
    from seqlab.core.precision import native_bf16_flags

    native = native_bf16_flags()
    if native:
        return {"bf16": True, "bf16_why": f"CPU has {', '.join(native)}"}
    return {
        "bf16": False,
        "bf16_why": "skipped: this CPU has no native bf16 (avx512_bf16/amx_bf16); --bf16 on runs it",
    }


def header(plan: Plan, opts: argparse.Namespace) -> dict:
    """What this run was, for the table's heading and the JSON file."""
    import torch

    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "host": platform.node(),
        "cpu": _cpu_name(),
        "torch": torch.__version__,
        "threads": plan.threads,
        "reps": plan.reps,
        "warmup": plan.warmup,
        "max_update": plan.max_update,
        "log_interval": plan.log_interval,
        "counted_after_update": plan.skip_updates,
        "quick": plan.quick,
        "long": plan.long,
        "rows": sorted(plan.rows, key=int),
        "data": str(opts.data),
    }


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def heading(h: dict) -> list[str]:
    """The lines above the table."""
    title = "seqlab bench — CONFIG-A (Multi30k en-de, spm BPE 8k, transformer 3+3 d256, CPU)"
    if h["quick"]:
        title += " — QUICK SMOKE TEST: tiny runs, 1 repetition, no warm-up; NOT a measurement"
    return [
        title,
        f"{h['date']} on {h['host']} ({h['cpu']}), torch {h['torch']}, {h['threads']} threads "
        f"(OMP_NUM_THREADS) for both toolkits",
        f"median of {h['reps']} interleaved run(s) per side{' after a warm-up run' if h['warmup'] else ''}; "
        f"training runs {h['max_update']} updates, speed = median tok/s of the {h['log_interval']}-update "
        f"intervals after update {h['counted_after_update']}",
    ]


def measure(plan: Plan, opts: argparse.Namespace) -> list[Row]:
    """Run every asked row and return them in table order."""
    from seqbench import generation, gpu, preprocessing, startup, training

    seq = toolkits.seqlab(Path(sys.executable).parent)
    fs = toolkits.fairseq(fairseq_env.ensure()) if plan.rows & NEEDS_FAIRSEQ else None
    kits = {"seqlab": seq, **({"fairseq": fs} if fs else {})}
    rows: list[Row] = []
    needs_data = plan.wants("1", "2", "3", "4", "5", "6", "8", "9")
    small = generation.QUICK_TEST_SENTENCES if plan.quick else 0
    env = seq.env(plan.threads)
    data = prepare(opts.data, seq.bin, fs.bin if fs else None, env, small) if needs_data else None
    if plan.wants("7"):
        with step("row 7: start-up"):
            rows += startup.startup_rows(plan, seq, fs)
    if plan.wants("6"):
        with step("row 6: preprocessing"):
            rows.append(preprocessing.preprocessing_row(plan, seq, fs, data))
    if plan.wants("1", "2", "4", "5", "8"):
        with step("rows 1, 2, 4, 8: training rounds"):
            measured = training.run_rounds(plan, seq, fs, data)
            rows += training.training_rows(plan, measured, data)
        if plan.wants("5"):
            with step("row 5: generation"):
                rows.append(generation.generation_row(plan, kits, data, measured.checkpoints))
    if plan.wants("3", "9"):
        rows += quality.quality_rows(plan, kits, data)
    if plan.wants("10"):
        rows.append(gpu.gpu_row(plan))
    order = {
        k: i for i, k in enumerate(["1", "1b", "2", "3", "4", "5", "5b", "6", "7a", "7b", "8", "9", "10"])
    }
    return sorted(rows, key=lambda r: order[r.key])


def main(argv: list[str] | None = None) -> int:
    """Run the bench, print the table on stdout, write the JSON file."""
    opts = parse_args(argv)
    plan = make_plan(opts)
    plan.work.mkdir(parents=True)
    h = header(plan, opts)
    say(f"rows {', '.join(h['rows'])}; {plan.threads} threads; work folder {plan.work}")
    try:
        rows = measure(plan, opts)
    except BaseException:
        say(f"failed: this run's logs and checkpoints are kept in {plan.work}")
        raise
    print(table.render(heading(h), rows), flush=True)
    table.write_json(opts.json, h, rows)
    say(f"results written to {opts.json}")
    if not opts.keep_work:
        shutil.rmtree(plan.work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
