"""``label_smoothed_cross_entropy``: cross entropy against targets smoothed toward uniform."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from seqlab.core import ConfigError, Criterion, metrics, register_criterion
from seqlab.core.decoder import logits_of
from seqlab.core.utils import item

from .fused_smoothed_loss import normalizes_with_plain_log_softmax, smoothed_cross_entropy
from .loss_metrics import log_loss_metrics
from .projected_smoothed_loss import (
    autocast_compute_dtype,
    blockwise_projection_weight,
    projected_smoothed_cross_entropy,
)


def label_smoothed_nll_loss(
    lprobs: torch.Tensor,
    target: torch.Tensor,
    epsilon: float,
    ignore_index: int | None = None,
    reduce: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(smoothed loss, nll loss)`` of log-probabilities ``N x V`` against targets ``N``.

    The smoothed target puts ``1 - epsilon`` on the reference and ``epsilon / (V - 1)``
    on every other symbol, so ``loss = (1 - epsilon - eps_i) * nll + eps_i * sum_v(-lprobs)``
    with ``eps_i = epsilon / (V - 1)``. Targets equal to ``ignore_index`` count nothing.
    """
    if target.dim() == lprobs.dim() - 1:
        target = target.unsqueeze(-1)
    nll_loss = -lprobs.gather(dim=-1, index=target)
    smooth_loss = -lprobs.sum(dim=-1, keepdim=True)
    if ignore_index is not None:
        pad_mask = target.eq(ignore_index)
        nll_loss = nll_loss.masked_fill(pad_mask, 0.0)
        smooth_loss = smooth_loss.masked_fill(pad_mask, 0.0)
    nll_loss = nll_loss.squeeze(-1)
    smooth_loss = smooth_loss.squeeze(-1)
    if reduce:
        nll_loss = nll_loss.sum()
        smooth_loss = smooth_loss.sum()
    eps_i = epsilon / (lprobs.size(-1) - 1)
    loss = (1.0 - epsilon - eps_i) * nll_loss + eps_i * smooth_loss
    return loss, nll_loss


@dataclass
class LabelSmoothedCrossEntropyCriterionConfig:
    """Options of the ``label_smoothed_cross_entropy`` criterion."""

    label_smoothing: float = field(
        default=0.0, metadata={"help": "epsilon for label smoothing, 0 means no label smoothing"}
    )
    report_accuracy: bool = field(default=False, metadata={"help": "report the accuracy of the argmax"})
    ignore_prefix_size: int = field(
        default=0,
        metadata={"help": "ignore the first N target tokens of every sentence (e.g. a language tag)"},
    )
    sentence_avg: bool = field(
        default=False,
        metadata={"help": "normalize gradients by the number of sentences in a batch (default: by tokens)"},
    )


@register_criterion("label_smoothed_cross_entropy", dataclass=LabelSmoothedCrossEntropyCriterionConfig)
class LabelSmoothedCrossEntropyCriterion(Criterion):
    """Label-smoothed cross entropy, logging the unsmoothed ``nll_loss`` (and accuracy on request)."""

    def __init__(
        self,
        task: Any,
        sentence_avg: bool = False,
        label_smoothing: float = 0.0,
        ignore_prefix_size: int = 0,
        report_accuracy: bool = False,
    ) -> None:
        super().__init__(task)
        if not 0.0 <= label_smoothing < 1.0:
            raise ConfigError(f"--label-smoothing must be in [0, 1), got {label_smoothing}")
        if ignore_prefix_size < 0:
            raise ConfigError(f"--ignore-prefix-size must be >= 0, got {ignore_prefix_size}")
        self.sentence_avg = sentence_avg
        self.eps = label_smoothing
        self.ignore_prefix_size = ignore_prefix_size
        self.report_accuracy = report_accuracy

    def forward(
        self, model: torch.nn.Module, sample: dict[str, Any], reduce: bool = True
    ) -> tuple[torch.Tensor, Any, dict[str, Any]]:
        """Return ``(loss, sample_size, logging_output)`` for one mini-batch."""
        cls = LabelSmoothedCrossEntropyCriterion
        own_loss = (
            type(self).compute_loss is cls.compute_loss
            and type(self).compute_accuracy is cls.compute_accuracy
        )
        weight = (
            blockwise_projection_weight(model) if own_loss and reduce and not self.report_accuracy else None
        )
        if weight is not None:
            # nothing needs the logits: the loss projects the features itself, block by block
            features, _ = model(**sample["net_input"], features_only=True)
            loss, nll_loss = self._projected_loss(model, features, weight, sample)
        else:
            net_output = model(**sample["net_input"])
            if own_loss:
                # nothing reads the logits after the loss but compute_accuracy, through log_softmax
                loss, nll_loss = self._loss(model, net_output, sample, reduce, overwrite_logits=True)
            else:
                loss, nll_loss = self.compute_loss(model, net_output, sample, reduce=reduce)
        nsentences = sample["target"].size(0)
        sample_size = nsentences if self.sentence_avg else sample["ntokens"]
        logging_output = {
            "loss": loss.detach().sum(),
            "nll_loss": nll_loss.detach().sum(),
            "ntokens": sample["ntokens"],
            "nsentences": nsentences,
            "sample_size": sample_size,
        }
        if self.report_accuracy:
            n_correct, total = self.compute_accuracy(model, net_output, sample)
            logging_output["n_correct"] = item(n_correct)
            logging_output["total"] = item(total)
        return loss, sample_size, logging_output

    def get_lprobs_and_target(
        self, model: torch.nn.Module, net_output: Any, sample: dict[str, Any]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Return log-probabilities ``N x V`` and targets ``N``, the ignored prefix dropped."""
        lprobs = model.get_normalized_probs(net_output, log_probs=True)
        lprobs, target = self._without_prefix(lprobs, model.get_targets(sample, net_output))
        return lprobs.reshape(-1, lprobs.size(-1)), target.reshape(-1)

    def _without_prefix(
        self, scores: torch.Tensor, target: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Drop the first ``--ignore-prefix-size`` positions of ``scores`` (B x T x ...) and ``target`` (B x T)."""
        if self.ignore_prefix_size == 0:
            return scores, target
        if target.dim() < 2:
            raise ConfigError(
                "--ignore-prefix-size needs targets with a time dimension (B x T); "
                "this model's targets have one value per sentence"
            )
        return scores[:, self.ignore_prefix_size :], target[:, self.ignore_prefix_size :]

    def compute_loss(
        self, model: torch.nn.Module, net_output: Any, sample: dict[str, Any], reduce: bool = True
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(smoothed loss, nll_loss)`` summed over non-pad targets."""
        return self._loss(model, net_output, sample, reduce, overwrite_logits=False)

    def _loss(
        self,
        model: torch.nn.Module,
        net_output: Any,
        sample: dict[str, Any],
        reduce: bool,
        overwrite_logits: bool,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if reduce and normalizes_with_plain_log_softmax(model):
            logits, target = logits_of(net_output), model.get_targets(sample, net_output)
            if target.dim() == logits.dim() - 1 and (self.ignore_prefix_size == 0 or target.dim() == 2):
                if self.ignore_prefix_size > 0:
                    logits, target = (
                        logits[:, self.ignore_prefix_size :],
                        target[:, self.ignore_prefix_size :],
                    )
                return smoothed_cross_entropy(
                    logits.reshape(-1, logits.size(-1)),
                    target.reshape(-1),
                    self.eps,
                    self.padding_idx,
                    overwrite_logits=overwrite_logits,
                )
        lprobs, target = self.get_lprobs_and_target(model, net_output, sample)
        return label_smoothed_nll_loss(lprobs, target, self.eps, ignore_index=self.padding_idx, reduce=reduce)

    def _projected_loss(
        self, model: torch.nn.Module, features: torch.Tensor, weight: torch.Tensor, sample: dict[str, Any]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        target = model.get_targets(sample, (features, None))
        if target.dim() != features.dim() - 1:  # not one target per feature row: the general path
            net_output = (torch.matmul(features, weight.t()), None)
            return self._loss(model, net_output, sample, reduce=True, overwrite_logits=True)
        features, target = self._without_prefix(features, target)
        return projected_smoothed_cross_entropy(
            features.reshape(-1, features.size(-1)),
            weight,
            target.reshape(-1),
            self.eps,
            self.padding_idx,
            compute_dtype=autocast_compute_dtype(weight.device),
        )

    def compute_accuracy(
        self, model: torch.nn.Module, net_output: Any, sample: dict[str, Any]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Return how many non-pad targets the argmax predicts, and how many there are."""
        lprobs, target = self.get_lprobs_and_target(model, net_output, sample)
        mask = target.ne(self.padding_idx)
        n_correct = lprobs.argmax(dim=1).masked_select(mask).eq(target.masked_select(mask)).sum()
        return n_correct, mask.sum()

    @classmethod
    def reduce_metrics(cls, logging_outputs: list[dict[str, Any]]) -> None:
        """Aggregate logging outputs from data-parallel workers into ``seqlab.core.metrics``."""
        log_loss_metrics(logging_outputs)
        total = item(sum(log.get("total", 0) for log in logging_outputs))
        if total > 0:
            # sums, not per-call averages, so splitting the outputs over calls changes nothing
            metrics.log_scalar_sum("total", total)
            metrics.log_scalar_sum("n_correct", item(sum(log.get("n_correct", 0) for log in logging_outputs)))
            metrics.log_derived(
                "accuracy",
                lambda meters: (
                    round(meters["n_correct"].sum * 100.0 / meters["total"].sum, 3)
                    if meters["total"].sum > 0
                    else float("nan")
                ),
            )

    @staticmethod
    def logging_outputs_can_be_summed() -> bool:
        """Every logged value is a sum, so workers' outputs may be summed before reducing."""
        return True
