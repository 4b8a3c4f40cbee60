"""``adaptive_loss``: the negative log-likelihood under a decoder's adaptive softmax (fairseq's criterion).

The model's decoder must have an ``adaptive_softmax`` (``--adaptive-softmax-cutoff``): its
forward returns the features, and ``adaptive_softmax(features, target)`` returns the head's
scores with each tail's scores for the positions whose target lies in its band, so each tail
runs only where needed. Padding is left out before the softmax, so that a tail word whose
index within its band equals the padding index still counts (fairseq passes the padding index
as ``ignore_index`` to every tail's loss, and so drops that word's loss).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from seqlab.core import ConfigError, register_criterion

from .cross_entropy import CrossEntropyCriterion, CrossEntropyCriterionConfig


def adaptive_softmax_of(model: torch.nn.Module) -> Any:
    """The decoder's adaptive softmax (through a data-parallel wrapper); a clear error when it has none."""
    inner = getattr(model, "module", model)
    softmax = getattr(getattr(inner, "decoder", None), "adaptive_softmax", None)
    if softmax is None:
        raise ConfigError(
            "--criterion adaptive_loss needs a model with an adaptive softmax: set --adaptive-softmax-cutoff "
            "(e.g. 20000,60000) or use --criterion cross_entropy"
        )
    return softmax


@register_criterion("adaptive_loss", dataclass=CrossEntropyCriterionConfig)
class AdaptiveLoss(CrossEntropyCriterion):
    """Summed token-level cross entropy through the adaptive softmax; ``sample_size`` counts tokens."""

    def forward(
        self, model: torch.nn.Module, sample: dict[str, Any], reduce: bool = True
    ) -> tuple[torch.Tensor, Any, dict[str, Any]]:
        """Return ``(loss, sample_size, logging_output)`` for one mini-batch."""
        softmax = adaptive_softmax_of(model)
        net_output = model(**sample["net_input"])
        features = net_output[0]
        target = model.get_targets(sample, net_output).reshape(-1)
        real = target.ne(self.padding_idx).nonzero().squeeze(1)
        rows = features.reshape(-1, features.size(-1)).index_select(0, real)
        scores, targets = softmax(rows, target.index_select(0, real))
        if reduce:
            loss = sum(F.cross_entropy(s.float(), t, reduction="sum") for s, t in zip(scores, targets))
        else:
            # the head's loss per real position, plus each tail's at its rows; zero at padding
            per_real = F.cross_entropy(scores[0].float(), targets[0], reduction="none")
            _, tail_rows = softmax.adapt_target(target.index_select(0, real))
            for s, t, r in zip(scores[1:], targets[1:], tail_rows):
                per_real = per_real.index_add(0, r, F.cross_entropy(s.float(), t, reduction="none"))
            loss = per_real.new_zeros(target.numel()).index_copy(0, real, per_real)
        return self.summarize(loss, sample)
