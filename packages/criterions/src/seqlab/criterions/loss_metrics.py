"""The loss metrics both criterions report, computed from summed logging outputs."""

from __future__ import annotations

import math
from typing import Any

from seqlab.core import metrics
from seqlab.core.utils import get_perplexity, item


def log_loss_metrics(logging_outputs: list[dict[str, Any]]) -> None:
    """Log ``loss`` per ``sample_size`` and ``nll_loss`` per token (both base 2) and ``ppl``."""
    loss_sum = item(sum(log.get("loss", 0) for log in logging_outputs))
    nll_loss_sum = item(sum(log.get("nll_loss", 0) for log in logging_outputs))
    ntokens = item(sum(log.get("ntokens", 0) for log in logging_outputs))
    sample_size = item(sum(log.get("sample_size", 0) for log in logging_outputs))
    # an empty batch (weight 0) adds nothing to the weighted averages
    loss = loss_sum / sample_size / math.log(2) if sample_size else 0.0
    nll_loss = nll_loss_sum / ntokens / math.log(2) if ntokens else 0.0
    metrics.log_scalar("loss", loss, sample_size, round=3)
    metrics.log_scalar("nll_loss", nll_loss, ntokens, round=3)
    metrics.log_derived("ppl", lambda meters: get_perplexity(meters["nll_loss"].avg))
