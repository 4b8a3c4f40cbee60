"""A summed token-level NLL, and variants that each break one contract."""

from dataclasses import dataclass

import torch.nn.functional as F

from seqlab.core import Criterion, metrics, register_criterion


@register_criterion("toy_nll")
class ToyNLL(Criterion):
    reduction = "sum"

    def forward(self, model, sample, reduce=True):
        lprobs = model.get_normalized_probs(model(**sample["net_input"]), log_probs=True)
        target = sample["target"]
        loss = F.nll_loss(
            lprobs.reshape(-1, lprobs.size(-1)),
            target.reshape(-1),
            ignore_index=self.ignored_index(),
            reduction=self.reduction,
        )
        ntokens = sample["ntokens"]
        log = {"loss": loss.item(), "ntokens": ntokens, "nsentences": target.size(0), "sample_size": ntokens}
        return loss, ntokens, log

    def ignored_index(self):
        return self.padding_idx

    @classmethod
    def reduce_metrics(cls, logging_outputs):
        loss = sum(log["loss"] for log in logging_outputs)
        size = sum(log["sample_size"] for log in logging_outputs)
        metrics.log_scalar("loss", loss / size, size)

    @staticmethod
    def logging_outputs_can_be_summed():
        return True


@register_criterion("toy_mean_nll")
class ToyMeanNLL(ToyNLL):
    """Breaks: returns the mean loss, so a batch's parts do not add up to it."""

    reduction = "mean"


@register_criterion("toy_nll_with_padding")
class ToyNLLWithPadding(ToyNLL):
    """Breaks: counts the padded target positions."""

    def ignored_index(self):
        return -100


@register_criterion("toy_unweighted_metrics")
class ToyUnweightedMetrics(ToyNLL):
    """Breaks: averages the per-call losses without weighting them by their sizes."""

    @classmethod
    def reduce_metrics(cls, logging_outputs):
        loss = sum(log["loss"] for log in logging_outputs)
        size = sum(log["sample_size"] for log in logging_outputs)
        metrics.log_scalar("loss", loss / size)


@dataclass
class UndocumentedConfig:
    sharpness: float = 1.0


@register_criterion("toy_undocumented", dataclass=UndocumentedConfig)
class ToyUndocumented(ToyNLL):
    """Breaks: an option without help text."""
