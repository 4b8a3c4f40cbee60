"""``cross_entropy``: the negative log-likelihood of the targets, padding ignored."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

from seqlab.core import Criterion, register_criterion

from .loss_metrics import log_loss_metrics


@dataclass
class CrossEntropyCriterionConfig:
    """Options of the ``cross_entropy`` criterion."""

    sentence_avg: bool = field(
        default=False,
        metadata={"help": "normalize gradients by the number of sentences in a batch (default: by tokens)"},
    )


@register_criterion("cross_entropy", dataclass=CrossEntropyCriterionConfig)
class CrossEntropyCriterion(Criterion):
    """Summed token-level cross entropy; ``sample_size`` counts tokens (sentences with ``--sentence-avg``)."""

    def __init__(self, task: Any, sentence_avg: bool = False) -> None:
        super().__init__(task)
        self.sentence_avg = sentence_avg

    def forward(
        self, model: torch.nn.Module, sample: dict[str, Any], reduce: bool = True
    ) -> tuple[torch.Tensor, Any, dict[str, Any]]:
        """Return ``(loss, sample_size, logging_output)`` for one mini-batch."""
        net_output = model(**sample["net_input"])
        loss, _ = self.compute_loss(model, net_output, sample, reduce=reduce)
        return self.summarize(loss, sample)

    def summarize(
        self, loss: torch.Tensor, sample: dict[str, Any]
    ) -> tuple[torch.Tensor, Any, dict[str, Any]]:
        """``(loss, sample_size, logging_output)`` for a summed negative log-likelihood ``loss``."""
        nsentences = sample["target"].size(0)
        sample_size = nsentences if self.sentence_avg else sample["ntokens"]
        summed = loss.detach().sum()
        logging_output = {
            "loss": summed,
            "nll_loss": summed,
            "ntokens": sample["ntokens"],
            "nsentences": nsentences,
            "sample_size": sample_size,
        }
        return loss, sample_size, logging_output

    def compute_loss(
        self, model: torch.nn.Module, net_output: Any, sample: dict[str, Any], reduce: bool = True
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(loss, nll_loss)``, summed over non-pad targets (per target with ``reduce=False``)."""
        lprobs = model.get_normalized_probs(net_output, log_probs=True)
        lprobs = lprobs.reshape(-1, lprobs.size(-1))
        target = model.get_targets(sample, net_output).reshape(-1)
        loss = F.nll_loss(
            lprobs, target, ignore_index=self.padding_idx, reduction="sum" if reduce else "none"
        )
        return loss, loss

    @classmethod
    def reduce_metrics(cls, logging_outputs: list[dict[str, Any]]) -> None:
        """Aggregate logging outputs from data-parallel workers into ``seqlab.core.metrics``."""
        log_loss_metrics(logging_outputs)

    @staticmethod
    def logging_outputs_can_be_summed() -> bool:
        """Every logged value is a sum, so workers' outputs may be summed before reducing."""
        return True
