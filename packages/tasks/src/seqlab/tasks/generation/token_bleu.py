"""fairseq's ``--scoring bleu``: corpus BLEU over the tokens as printed, without detokenization or smoothing.

The tokens are the ``H-`` line's (sentencepiece pieces, or words with ``--remove-bpe``) and the
reference's, split the same way; n-gram matches are clipped by the reference's counts, the
brevity penalty is ``exp(1 - reflen / syslen)`` when the output is shorter, and the result
reads as fairseq prints it (``BLEU4 = 27.31, 58.9/33.4/21.0/13.6 (BP=0.987, ...)``). Scores on
pieces are higher than sacreBLEU's on detokenized text and are not comparable across
segmentations; ``--scoring sacrebleu`` (the default) is the one to report.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence


class TokenBleu:
    """Sums the n-gram statistics of tokenized sentence pairs; scores the corpus."""

    def __init__(self, order: int = 4) -> None:
        self.order = order
        self.matches = [0] * order
        self.totals = [0] * order
        self.syslen = self.reflen = 0

    def add(self, reference: Sequence[str], hypothesis: Sequence[str]) -> None:
        """Count one sentence pair, each a list of tokens."""
        self.reflen += len(reference)
        self.syslen += len(hypothesis)
        for n in range(1, self.order + 1):
            hyp = Counter(tuple(hypothesis[i : i + n]) for i in range(len(hypothesis) - n + 1))
            ref = Counter(tuple(reference[i : i + n]) for i in range(len(reference) - n + 1))
            self.matches[n - 1] += sum(min(count, ref[gram]) for gram, count in hyp.items())
            self.totals[n - 1] += max(len(hypothesis) - n + 1, 0)

    def precisions(self) -> list[float]:
        """The clipped n-gram precisions, 1 to ``order`` (0 where nothing was counted)."""
        return [m / t if t else 0.0 for m, t in zip(self.matches, self.totals)]

    def brevity(self) -> float:
        """The brevity penalty."""
        if self.syslen == 0:
            return 0.0
        return min(1.0, math.exp(1 - self.reflen / self.syslen))

    def score(self) -> float:
        """BLEU, 0 to 100 (0 when an order has no match)."""
        precisions = self.precisions()
        if min(precisions) <= 0:
            return 0.0
        return self.brevity() * math.exp(sum(math.log(p) for p in precisions) / self.order) * 100

    def result_string(self) -> str:
        """fairseq's line for ``--scoring bleu``."""
        grams = "/".join(f"{100 * p:2.1f}" for p in self.precisions())
        ratio = self.syslen / self.reflen if self.reflen else 0.0
        return (
            f"BLEU{self.order} = {self.score():2.2f}, {grams} (BP={self.brevity():.3f}, ratio={ratio:.3f}, "
            f"syslen={self.syslen}, reflen={self.reflen})"
        )
