"""Rows 3 and 9 (``--long``): test2016 sacreBLEU after 8 epochs, and after the same wall-clock budget.

Hypotheses are the tools' ``H-`` lines in sentence order, turned back into text with the
sentencepiece model (the same decoding for both), scored against the raw German references
with sacreBLEU's defaults: 13a tokenization, cased.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from . import procs
from .config import SPLITS
from .data import Prepared
from .generation import QUICK_TEST_SENTENCES
from .logs import hypotheses, train_intervals
from .plan import Plan
from .report import say, step
from .results import Row, Target
from .toolkits import SPEED_LENGTH_CAP, Toolkit


def detokenized_bleu(output: str, data: Prepared, sentences: int | None = None) -> float:
    """Corpus sacreBLEU (13a, cased) of a generation output against the raw test references
    (the first ``sentences`` of them when given)."""
    import sacrebleu
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_file=str(data.spm_model))
    refs = (data.raw / f"{SPLITS['test']}.de").read_text(encoding="utf-8").splitlines()[:sentences]
    found = hypotheses(output)
    if sorted(found) != list(range(len(refs))):
        raise RuntimeError(f"{len(found)} hypotheses for {len(refs)} references")
    hyps = [sp.decode_pieces(found[i].split()) if "▁" in found[i] else found[i] for i in range(len(refs))]
    return sacrebleu.corpus_bleu(hyps, [refs]).score


def train_and_score(
    plan: Plan, kit: Toolkit, data: Prepared, stop: list[str], tag: str
) -> tuple[float, float, int]:
    """Train one toolkit until ``stop``, translate test2016 with beam 5; return (BLEU, training s, updates)."""
    seqlab = kit.name == "seqlab"
    train_data = data.seqlab_bin if seqlab else data.fairseq_bin
    gen_data = data.seqlab_gen_bin if seqlab else data.fairseq_gen_bin
    save = plan.work / "checkpoints" / f"{tag}-{kit.name}"
    shutil.rmtree(save, ignore_errors=True)
    log = plan.work / "logs" / f"{tag}-{kit.name}"
    with step(f"{tag}: training {kit.name} ({' '.join(stop)})"):
        argv = kit.train_argv(train_data, save, stop, plan.log_interval)
        trained = procs.run(argv, kit.env(plan.threads), log=log).check()
    # an untrained --quick model rarely ends a sentence: cap its length as row 5 does
    extra = SPEED_LENGTH_CAP if plan.quick else []
    with step(f"{tag}: translating test2016 with {kit.name}"):
        argv = kit.generate_argv(gen_data, save / "checkpoint_last.pt", extra)
        out = procs.run(argv, kit.env(plan.threads), log=Path(f"{log}-gen")).check()
    bleu = detokenized_bleu(out.stdout, data, QUICK_TEST_SENTENCES if plan.quick else None)
    say(f"{tag}: {kit.name} BLEU {bleu:.2f} after {trained.wall_s / 60:.1f} min of training")
    shutil.rmtree(save, ignore_errors=True)
    intervals = train_intervals(trained.stdout + trained.stderr)
    return bleu, trained.wall_s, intervals[-1].end_update if intervals else 0


def quality_rows(plan: Plan, kits: dict[str, Toolkit], data: Prepared) -> list[Row]:
    """Row 3 (8 epochs) and row 9 (same wall-clock budget), toolkits one after the other.

    With --quick they only exercise the path: a few updates, and a one-minute budget.
    """
    rows = []
    if plan.wants("3"):
        row = Row("3", "test2016 BLEU after 8 epochs", "BLEU", Target(">=", 27.5, on="seqlab", text="≥ 27.5"))
        stop = ["--max-update", str(plan.max_update)] if plan.quick else ["--max-epoch", "8"]
        rows.append(_score_row(row, plan, kits, data, stop, "8-epochs"))
    if plan.wants("9"):
        minutes = 1.0 if plan.quick else plan.budget_min
        row = Row("9", f"test2016 BLEU after {minutes:g} min of training", "BLEU",
                  Target(">=", 1.0, text="≥ fairseq"))  # fmt: skip
        stop = ["--stop-time-hours", f"{minutes / 60:.6f}"]
        rows.append(_score_row(row, plan, kits, data, stop, "budget"))
    return rows


def _score_row(
    row: Row, plan: Plan, kits: dict[str, Toolkit], data: Prepared, stop: list[str], tag: str
) -> Row:
    scores = {name: train_and_score(plan, kit, data, stop, tag) for name, kit in kits.items()}
    row.seqlab, row.baseline = scores["seqlab"][0], scores.get("fairseq", (None,))[0]
    row.raw = {f"{n} training min": [s[1] / 60] for n, s in scores.items()}
    row.raw.update({f"{n} updates (last logged)": [s[2]] for n, s in scores.items()})
    if plan.quick:
        row.note = f"--quick: {' '.join(stop)}, first {QUICK_TEST_SENTENCES} test sentences; not a result"
    return row
