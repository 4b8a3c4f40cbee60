"""Corpus BLEU through sacrebleu, and its sufficient statistics as summable counts.

Validation logs the n-gram counts of each batch (``_bleu_counts_i``, ``_bleu_totals_i``,
``_bleu_sys_len``, ``_bleu_ref_len``); summed over batches and workers they give the same
corpus BLEU as scoring every sentence at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from seqlab.core import SeqlabError

#: n-gram orders BLEU counts
ORDER = 4
#: sacrebleu's tokenizers that need nothing beyond sacrebleu itself
TOKENIZERS = ("13a", "none", "intl", "char", "zh")


def _sacrebleu() -> Any:
    try:
        import sacrebleu
    except ImportError as exc:  # seqlab-tasks declares it; a broken environment may still lack it
        raise SeqlabError("BLEU needs the sacrebleu package: pip install sacrebleu") from exc
    return sacrebleu


def corpus_bleu(
    hypotheses: Sequence[str], references: Sequence[str], tokenize: str = "13a", lowercase: bool = False
) -> Any:
    """sacrebleu's corpus BLEU of one reference per hypothesis (a ``BLEUScore``)."""
    return _sacrebleu().corpus_bleu(
        list(hypotheses), [list(references)], tokenize=tokenize, lowercase=lowercase
    )


def corpus_chrf(hypotheses: Sequence[str], references: Sequence[str]) -> Any:
    """sacrebleu's corpus chrF (a ``CHRFScore``)."""
    return _sacrebleu().corpus_chrf(list(hypotheses), [list(references)])


def bleu_logging_output(score: Any) -> dict[str, int]:
    """The counts of a ``BLEUScore`` as logging-output entries that can be summed."""
    out = {"_bleu_sys_len": int(score.sys_len), "_bleu_ref_len": int(score.ref_len)}
    for i in range(ORDER):
        out[f"_bleu_counts_{i}"] = int(score.counts[i])
        out[f"_bleu_totals_{i}"] = int(score.totals[i])
    return out


def bleu_from_counts(sums: Mapping[str, float]) -> float:
    """Corpus BLEU (0-100, sacrebleu's exponential smoothing) from summed counts."""
    bleu = _sacrebleu().metrics.BLEU
    counts = [int(sums[f"_bleu_counts_{i}"]) for i in range(ORDER)]
    totals = [int(sums[f"_bleu_totals_{i}"]) for i in range(ORDER)]
    score = bleu.compute_bleu(
        counts, totals, int(sums["_bleu_sys_len"]), int(sums["_bleu_ref_len"]), smooth_method="exp"
    )
    return float(score.score)
