"""Score language-model batches: the summed log-probability of every target token (``seq-eval-lm``)."""

from __future__ import annotations

from typing import Any

import torch

from .ensemble import EnsembleModel


@torch.no_grad()
def score_lm_batch(ensemble: EnsembleModel, sample: dict[str, Any], pad: int) -> tuple[float, int]:
    """Return ``(sum of natural-log probabilities, number of scored tokens)`` of a batch's targets."""
    target = sample["target"]
    lprobs = ensemble.score_tokens(sample["net_input"], target)
    scored = target.ne(pad)
    return float(lprobs.masked_fill(~scored, 0.0).sum()), int(scored.sum())
