"""Rows 1, 2, 4 and 8: CONFIG-A training runs of every configuration, interleaved round by round.

Each round runs every configuration once (the order rotates between rounds, so that none
always follows the same neighbour); a run's figure is the median target tokens/s of its
logged intervals after the warm-up updates. The last fp32 checkpoints feed row 5.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from . import flops, procs
from .config import CONFIG_A
from .data import Prepared
from .logs import interval_speed, train_intervals
from .plan import Plan
from .report import say
from .results import Row, Target, median
from .toolkits import Toolkit, bench_env, bench_module_argv


@dataclass
class Measured:
    """Every measured run of the training rounds."""

    wps: dict[str, list[float]] = field(default_factory=dict)  # per configuration, one per run
    rss: dict[str, list[float]] = field(default_factory=dict)  # peak RSS MiB per run
    peak: list[float] = field(default_factory=list)  # torch.mm FLOP/s, one per round
    checkpoints: dict[str, Path] = field(default_factory=dict)  # the last run's, per toolkit (fp32)
    failed: dict[str, str] = field(default_factory=dict)  # configuration -> why it failed


def configurations(plan: Plan) -> list[str]:
    """The configurations the asked rows need, in round order (plus "matmul" for row 2)."""
    need: list[str] = []
    if plan.wants("1", "2", "4", "5", "8"):
        need.append("seqlab")
    if plan.wants("1", "2", "5", "8"):
        need.append("fairseq")
    if plan.wants("1") and plan.bf16:
        need.append("seqlab-bf16")  # fairseq 0.12 has no bf16 on the CPU: it takes --bf16 for a TPU
    if plan.wants("4"):
        need.append("bare")
    if plan.wants("2"):
        need.append("matmul")
    return need


def run_rounds(plan: Plan, seq: Toolkit, fs: Toolkit | None, data: Prepared) -> Measured:
    """Warm up, then run ``plan.reps`` interleaved rounds of every needed configuration."""
    out = Measured()
    configs = [c for c in configurations(plan) if fs is not None or not c.startswith("fairseq")]
    only_checkpoints = not plan.wants("1", "2", "4", "8")  # row 5 alone: one run each is enough
    reps = 1 if only_checkpoints else plan.reps
    if plan.warmup and not only_checkpoints:
        for name in configs:
            _one(plan, name, "warmup", plan.log_interval, seq, fs, data, out, record=False)
    for rep in range(reps):
        shift = rep % len(configs)
        for name in configs[shift:] + configs[:shift]:
            _one(plan, name, str(rep + 1), plan.max_update, seq, fs, data, out, record=True)
    return out


def _one(
    plan: Plan,
    name: str,
    rep: str,
    updates: int,
    seq: Toolkit,
    fs: Toolkit | None,
    data: Prepared,
    out: Measured,
    record: bool,
) -> None:
    if name in out.failed:
        return
    label = f"{name} run {rep}" + (f" ({updates} updates)" if name != "matmul" else "")
    say(f"training round: {label} ...")
    log = plan.work / "logs" / f"{name}-{rep}"
    if name == "matmul":
        result = procs.run(bench_module_argv("matmul_peak"), bench_env(plan.threads), log=log).check()
        rate = json.loads(result.stdout.strip().splitlines()[-1])["flops"]
        say(f"training round: {label}: {rate / 1e9:.1f} GFLOP/s")
        if record:
            out.peak.append(rate)
        return
    save = plan.work / "checkpoints" / f"{name}-{rep}"
    shutil.rmtree(save, ignore_errors=True)  # seq-train resumes from a checkpoint it finds there
    stop = ["--max-update", str(updates)]
    if name == "bare":
        argv = bench_module_argv(
            "bare_loop", str(data.seqlab_bin), *stop, "--log-interval", str(plan.log_interval)
        )
        env = bench_env(plan.threads)
    else:
        kit = seq if name.startswith("seqlab") else fs
        bin_data = data.seqlab_bin if kit is seq else data.fairseq_bin
        argv = kit.train_argv(bin_data, save, stop, plan.log_interval, bf16=name.endswith("bf16"))
        env = kit.env(plan.threads)
    result = procs.run(argv, env, log=log)
    if result.returncode != 0:
        if not name.endswith("bf16"):  # bf16 may be missing on a CPU; the row says so
            result.check()
        out.failed[name] = f"seq-train --bf16 exited {result.returncode}; see {log}.err"
        say(f"training round: {label}: FAILED ({out.failed[name]})")
        return
    if not record:  # a warm-up run only has to work
        shutil.rmtree(save, ignore_errors=True)
        say(f"training round: {label}: done in {result.wall_s:.0f} s")
        return
    speeds = interval_speed(train_intervals(result.stdout + result.stderr), plan.skip_updates)
    if not speeds:
        raise RuntimeError(f"{label}: no logged interval after update {plan.skip_updates}; see {log}.out")
    say(f"training round: {label}: {median(speeds):,.0f} tok/s, peak RSS {result.peak_rss_mib:,.0f} MiB, "
        f"{result.wall_s:.0f} s")  # fmt: skip
    out.wps.setdefault(name, []).append(median(speeds))
    out.rss.setdefault(name, []).append(result.peak_rss_mib)
    if name in ("seqlab", "fairseq"):
        previous = out.checkpoints.get(name)
        out.checkpoints[name] = save / "checkpoint_last.pt"
        if previous is not None:
            shutil.rmtree(previous.parent, ignore_errors=True)


def training_rows(plan: Plan, m: Measured, data: Prepared) -> list[Row]:
    """Rows 1, 1b, 2, 4 and 8 from the measured rounds (only those asked for)."""
    rows: list[Row] = []
    wps = m.wps
    if plan.wants("1"):
        rows.append(_pair("1", "training throughput, fp32", "tok/s", wps, "seqlab", "fairseq",
                          Target(">=", 1.3, text="≥ 1.3× fairseq")))  # fmt: skip
        rows.append(_bf16(plan, m))
    if plan.wants("2"):
        rows.append(_utilisation(plan, m, data))
    if plan.wants("4"):
        row = _pair("4", "framework overhead: seq-train / bare loop", "tok/s", wps, "seqlab", "bare",
                    Target(">=", 0.97, text="≥ 0.97× bare loop"))  # fmt: skip
        row.baseline_name = "bare loop"
        rows.append(row)
    if plan.wants("8"):
        rows.append(_pair("8", "peak RSS of training", "MiB", m.rss, "seqlab", "fairseq",
                          Target("<=", 0.8, text="≤ 0.8× fairseq")))  # fmt: skip
    return rows


def _pair(
    key: str, measure: str, unit: str, runs: dict[str, list[float]], a: str, b: str, target: Target
) -> Row:
    raw = {name: runs[name] for name in (a, b) if name in runs}
    return Row(
        key, measure, unit, target, seqlab=median(runs.get(a, [])), baseline=median(runs.get(b, [])), raw=raw
    )


def _bf16(plan: Plan, m: Measured) -> Row:
    # fairseq 0.12 cannot train in bf16 on a CPU (its --bf16 asks for a TPU), and fp32 is never
    # compared with bf16, so this row has no baseline: the note gives the speed-up over fp32
    row = Row(
        "1b", "training throughput, seq-train --bf16", "tok/s", Target(">=", 0.0, text="none (no baseline)")
    )
    row.baseline_name = "—"
    runs = m.wps.get("seqlab-bf16", [])
    if not runs:
        row.note = m.failed.get("seqlab-bf16") or plan.bf16_why
        return row
    row.seqlab = median(runs)
    row.raw = {"seqlab-bf16": runs}
    fp32 = median(m.wps.get("seqlab", []))
    speedup = f"; {row.seqlab / fp32:.2f}× seq-train fp32" if fp32 else ""
    row.note = f"fairseq 0.12 has no CPU bf16 (its --bf16 needs a TPU){speedup}; {plan.bf16_why}"
    return row


def _utilisation(plan: Plan, m: Measured, data: Prepared) -> Row:
    vocab, shapes = flops.seqlab_batch_shapes(str(data.seqlab_bin), 4096)
    per_token = flops.training_flops_per_target_token(CONFIG_A, vocab, shapes)
    peak = median(m.peak)
    row = Row(
        "2", "model FLOP/s ÷ torch.mm fp32 2048² FLOP/s", "%", Target(">=", 70.0, on="seqlab", text="≥ 70%")
    )
    if not peak:
        row.note = "no matmul measurement"
        return row
    mfu = {k: [100 * w * per_token / peak for w in m.wps.get(k, [])] for k in ("seqlab", "fairseq")}
    row.seqlab, row.baseline = median(mfu["seqlab"]), median(mfu["fairseq"])
    row.raw = {**{k: v for k, v in mfu.items() if v}, "matmul GFLOP/s": [p / 1e9 for p in m.peak]}
    row.note = f"{per_token / 1e6:.1f} MFLOP per target token (epoch average, {len(shapes)} batches), {plan.threads} threads"
    return row
