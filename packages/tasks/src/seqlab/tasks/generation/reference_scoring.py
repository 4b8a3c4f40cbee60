"""Score each sentence's reference instead of searching (``seq-generate --score-reference``)."""

from __future__ import annotations

from typing import Any

import torch

from seqlab.core import SeqlabError

from .ensemble import EnsembleModel


@torch.no_grad()
def score_references(ensemble: EnsembleModel, sample: dict[str, Any], pad: int) -> list[list[dict[str, Any]]]:
    """One hypothesis per sentence, its reference: per-token log-probabilities and their mean as the score.

    The score is the summed log-probability over the reference's tokens (its ``</s>``
    included) divided by their number, as fairseq's reference scorer gives it and as beam
    search scores a hypothesis at the default ``--lenpen 1``.
    """
    target = sample.get("target")
    if target is None:
        raise SeqlabError("--score-reference needs a split with references; this one has only sources")
    lprobs = ensemble.score_tokens(sample["net_input"], target).cpu()
    target = target.cpu()
    hypotheses = []
    for tokens, scores in zip(target, lprobs):
        kept = tokens.ne(pad)
        positional = scores[kept]
        hypotheses.append(
            [
                {
                    "tokens": tokens[kept],
                    "score": float(positional.mean()),  # never empty: every reference ends in </s>
                    "positional_scores": positional,
                    "attention": None,
                    "alignment": None,
                }
            ]
        )
    return hypotheses
