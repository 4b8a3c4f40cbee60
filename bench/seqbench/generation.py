"""Rows 5 and 5b: beam-5 generation speed on test2016, with the checkpoints of the training rounds
(row 5) and with row 3's 8-epoch models (row 5b, ``--long``).

Speed is generated tokens (end-of-sentence included) per second of generation, as each tool
reports it in its ``Translated N sentences (M tokens) in Xs`` line; the wall time of the whole
process is kept in the raw figures too.
"""

from __future__ import annotations

from pathlib import Path

from . import procs
from .data import Prepared
from .logs import generation_summary
from .plan import Plan
from .report import say
from .results import Row, Target, median
from .toolkits import SPEED_LENGTH_CAP, Toolkit

#: test sentences translated in --quick runs (the full test2016 has 1,000)
QUICK_TEST_SENTENCES = 100


def generation_row(plan: Plan, kits: dict[str, Toolkit], data: Prepared, checkpoints: dict[str, Path]) -> Row:
    """Interleaved seq-generate / fairseq-generate runs; the row compares their tokens/s."""
    row = Row("5", "generation, beam 5, test2016", "tok/s", Target(">=", 2.0, text="≥ 2× fairseq"))
    _timed_generation(row, plan, kits, data, checkpoints, SPEED_LENGTH_CAP, "generate")
    row.note = "length cap " + " ".join(SPEED_LENGTH_CAP) + f"; models after {plan.max_update} updates"
    if data.seqlab_gen_bin != data.seqlab_bin:
        row.note += f"; --quick: only the first {QUICK_TEST_SENTENCES} test sentences"
    return row


def trained_generation_row(
    plan: Plan, kits: dict[str, Toolkit], data: Prepared, checkpoints: dict[str, Path], extra: list[str]
) -> Row:
    """Row 5b: row 5's measure on row 3's models, whose outputs have realistic lengths."""
    row = Row("5b", "generation, beam 5, row 3's models", "tok/s", Target(">=", 2.0, text="≥ 2× fairseq"))
    _timed_generation(row, plan, kits, data, checkpoints, extra, "generate-trained")
    if plan.quick:
        row.note = (
            f"--quick: models after {plan.max_update} updates, first {QUICK_TEST_SENTENCES} test sentences"
        )
    else:
        row.note = "models after 8 epochs (row 3); " + (" ".join(extra) if extra else "no length cap")
    return row


def _timed_generation(
    row: Row,
    plan: Plan,
    kits: dict[str, Toolkit],
    data: Prepared,
    checkpoints: dict[str, Path],
    extra: list[str],
    tag: str,
) -> None:
    """Fill ``row`` with interleaved runs of each toolkit's generator (a warm-up first, then plan.reps)."""
    names = [n for n in ("seqlab", "fairseq") if n in kits and n in checkpoints]
    bins = {"seqlab": data.seqlab_gen_bin, "fairseq": data.fairseq_gen_bin}
    speed: dict[str, list[float]] = {n: [] for n in names}
    wall: dict[str, list[float]] = {n: [] for n in names}
    rounds = (["warmup"] if plan.warmup else []) + [str(r + 1) for r in range(plan.reps)]
    for i, rep in enumerate(rounds):
        for name in names if i % 2 == 0 else names[::-1]:  # alternate who goes first
            kit = kits[name]
            argv = kit.generate_argv(bins[name], checkpoints[name], extra)
            say(f"row {row.key}: {name} run {rep} ...")
            result = procs.run(
                argv, kit.env(plan.threads), log=plan.work / "logs" / f"{tag}-{name}-{rep}"
            ).check()
            summary = generation_summary(result.stdout + result.stderr)
            say(f"row {row.key}: {name} run {rep}: {summary.tokens_per_s:,.0f} tok/s "
                f"({summary.tokens:,} tokens in {summary.seconds:.1f} s; process {result.wall_s:.1f} s)")  # fmt: skip
            if rep != "warmup":
                speed[name].append(summary.tokens_per_s)
                wall[name].append(result.wall_s)
    row.seqlab, row.baseline = median(speed.get("seqlab", [])), median(speed.get("fairseq", []))
    row.raw = {**speed, **{f"{n} process wall s": w for n, w in wall.items()}}
