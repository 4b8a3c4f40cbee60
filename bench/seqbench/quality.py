"""Rows 3 and 9 (``--long``): test2016 sacreBLEU after 8 epochs, and after the same wall-clock budget.

Row 3's models then decode test2016 again, timed, for row 5b (:mod:`.generation`).

Hypotheses are the tools' ``H-`` lines in sentence order, turned back into text with the
sentencepiece model (the same decoding for both), scored against the raw German references
with sacreBLEU's defaults: 13a tokenization, cased.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from . import procs
from .config import SPLITS
from .data import Prepared
from .generation import QUICK_TEST_SENTENCES, trained_generation_row
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


@dataclass(frozen=True)
class Scored:
    """One toolkit's model for a quality row: its score, how long it trained, and where it is."""

    bleu: float
    train_s: float
    updates: int
    checkpoint: Path


def _gen_extra(plan: Plan) -> list[str]:
    # an untrained --quick model rarely ends a sentence: cap its length as row 5 does
    return SPEED_LENGTH_CAP if plan.quick else []


def train_and_score(plan: Plan, kit: Toolkit, data: Prepared, stop: list[str], tag: str) -> Scored:
    """Train one toolkit until ``stop`` and translate test2016 with beam 5; the caller removes the checkpoint."""
    seqlab = kit.name == "seqlab"
    train_data = data.seqlab_bin if seqlab else data.fairseq_bin
    gen_data = data.seqlab_gen_bin if seqlab else data.fairseq_gen_bin
    save = plan.work / "checkpoints" / f"{tag}-{kit.name}"
    shutil.rmtree(save, ignore_errors=True)
    log = plan.work / "logs" / f"{tag}-{kit.name}"
    with step(f"{tag}: training {kit.name} ({' '.join(stop)})"):
        argv = kit.train_argv(train_data, save, stop, plan.log_interval)
        trained = procs.run(argv, kit.env(plan.threads), log=log).check()
    with step(f"{tag}: translating test2016 with {kit.name}"):
        argv = kit.generate_argv(gen_data, save / "checkpoint_last.pt", _gen_extra(plan))
        out = procs.run(argv, kit.env(plan.threads), log=Path(f"{log}-gen")).check()
    bleu = detokenized_bleu(out.stdout, data, QUICK_TEST_SENTENCES if plan.quick else None)
    say(f"{tag}: {kit.name} BLEU {bleu:.2f} after {trained.wall_s / 60:.1f} min of training")
    intervals = train_intervals(trained.stdout + trained.stderr)
    updates = intervals[-1].end_update if intervals else 0
    return Scored(bleu, trained.wall_s, updates, save / "checkpoint_last.pt")


def quality_rows(plan: Plan, kits: dict[str, Toolkit], data: Prepared) -> list[Row]:
    """Row 3 (8 epochs) with row 5b on its models, and row 9 (same wall-clock budget).

    The toolkits train one after the other. With --quick the rows only exercise the path: a
    few updates, and a one-minute budget.
    """
    rows = []
    if plan.models_from is not None:
        with step(f"row 5b: generation with the models kept in {plan.models_from}"):
            row = trained_generation_row(plan, kits, data, kept_models(plan.models_from), _gen_extra(plan))
        row.note += f"; models kept by run {plan.models_from.name}"
        return [row]
    if plan.wants("3"):
        row = Row("3", "test2016 BLEU after 8 epochs", "BLEU", Target(">=", 27.5, on="seqlab", text="≥ 27.5"))
        stop = ["--max-update", str(plan.max_update)] if plan.quick else ["--max-epoch", "8"]
        scores = _scores(plan, kits, data, stop, "8-epochs")
        rows.append(_score_row(row, plan, scores, stop))
        if len(scores) == len(kits) > 1:
            models = {name: scored.checkpoint for name, scored in scores.items()}
            with step("row 5b: generation with row 3's models"):
                rows.append(trained_generation_row(plan, kits, data, models, _gen_extra(plan)))
        _remove(plan, scores)
    if plan.wants("9"):
        minutes = 1.0 if plan.quick else plan.budget_min
        row = Row("9", f"test2016 BLEU after {minutes:g} min of training", "BLEU",
                  Target(">=", 1.0, text="≥ fairseq"))  # fmt: skip
        stop = ["--stop-time-hours", f"{minutes / 60:.6f}"]
        scores = _scores(plan, kits, data, stop, "budget")
        rows.append(_score_row(row, plan, scores, stop))
        _remove(plan, scores)
    return rows


def kept_models(work: Path) -> dict[str, Path]:
    """Where a kept work folder holds each toolkit's row-3 model."""
    return {
        name: work / "checkpoints" / f"8-epochs-{name}" / "checkpoint_last.pt"
        for name in ("seqlab", "fairseq")
    }


def _scores(
    plan: Plan, kits: dict[str, Toolkit], data: Prepared, stop: list[str], tag: str
) -> dict[str, Scored]:
    return {name: train_and_score(plan, kit, data, stop, tag) for name, kit in kits.items()}


def _remove(plan: Plan, scores: dict[str, Scored]) -> None:
    if plan.keep_work:
        return
    for scored in scores.values():
        shutil.rmtree(scored.checkpoint.parent, ignore_errors=True)


def _score_row(row: Row, plan: Plan, scores: dict[str, Scored], stop: list[str]) -> Row:
    row.seqlab = scores["seqlab"].bleu
    row.baseline = scores["fairseq"].bleu if "fairseq" in scores else None
    row.raw = {f"{n} training min": [s.train_s / 60] for n, s in scores.items()}
    row.raw.update({f"{n} updates (last logged)": [s.updates] for n, s in scores.items()})
    if plan.quick:
        row.note = f"--quick: {' '.join(stop)}, first {QUICK_TEST_SENTENCES} test sentences; not a result"
    return row
