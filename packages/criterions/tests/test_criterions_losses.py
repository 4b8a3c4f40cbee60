"""cross_entropy and label_smoothed_cross_entropy against values computed by hand on a padded batch."""

from __future__ import annotations

import argparse
import math
from typing import Any

import pytest
import torch

from seqlab.core import BaseModel, ConfigError, build_criterion, metrics

PAD = 1
VOCAB = 5

# B=2 sentences, T=3 steps, V=5 symbols; the second sentence ends in padding.
LOGITS = [
    [[0.5, -1.0, 2.0, 0.0, 1.0], [0.5, 0.2, 1.3, 0.8, 0.1], [-0.5, 0.0, 0.4, 2.2, -1.0]],
    [[0.3, 0.3, 1.1, -0.7, 0.0], [2.0, -2.0, 0.5, 0.5, 1.0], [0.9, 3.0, -1.0, 0.2, 0.1]],
]
TARGET = [[4, 2, 3], [2, 3, PAD]]
NTOKENS = 5


class Dictionary:
    """The part of a dictionary a criterion uses."""

    def pad(self) -> int:
        return PAD


class Task:
    """A task as a criterion sees it: the target dictionary."""

    target_dictionary = Dictionary()


class SequenceModel(BaseModel):
    """Returns fixed ``(logits B x T x V, extra)`` like an encoder-decoder model."""

    def __init__(self, logits: list) -> None:
        super().__init__()
        self.logits = torch.nn.Parameter(torch.tensor(logits))

    def forward(
        self,
        src_tokens: torch.Tensor,
        src_lengths: torch.Tensor,
        prev_output_tokens: torch.Tensor,
        rows: torch.Tensor,
    ) -> Any:
        return self.logits[rows], {"attn": [None]}


class Classifier(BaseModel):
    """Returns bare logits ``B x V``: one prediction per sentence."""

    def __init__(self, logits: list) -> None:
        super().__init__()
        self.logits = torch.nn.Parameter(torch.tensor(logits))

    def forward(self, src_tokens: torch.Tensor, src_lengths: torch.Tensor) -> torch.Tensor:
        return self.logits[: src_tokens.size(0)]


def sequence_sample(target: list = TARGET, rows: list[int] | None = None) -> dict[str, Any]:
    """A mini-batch dict in fairseq's shape; ``rows`` picks the model's logits for each sentence."""
    t = torch.tensor(target)
    ids = torch.tensor(rows) if rows is not None else torch.arange(t.size(0))
    return {
        "id": ids,
        "nsentences": t.size(0),
        "ntokens": int(t.ne(PAD).sum()),
        "net_input": {
            "src_tokens": t,
            "src_lengths": torch.full((t.size(0),), 3),
            "prev_output_tokens": t,
            "rows": ids,
        },
        "target": t,
    }


def criterion(name: str, **options: object):
    """Build a criterion by name from flat args."""
    return build_criterion(argparse.Namespace(criterion=name, **options), Task())


def log_softmax(row: list[float]) -> list[float]:
    """Log-probabilities of one row of logits, by hand."""
    z = math.log(sum(math.exp(x) for x in row))
    return [x - z for x in row]


def hand_losses(eps: float, prefix: int = 0) -> tuple[float, float, int, int]:
    """Summed smoothed loss, summed nll, non-pad target count and argmax hits, by hand."""
    loss = nll = count = correct = 0
    for logits_row, target_row in zip(LOGITS, TARGET):
        for logits, t in list(zip(logits_row, target_row))[prefix:]:
            if t == PAD:
                continue
            lp = log_softmax(logits)
            eps_i = eps / (VOCAB - 1)
            nll += -lp[t]
            loss += (1 - eps - eps_i) * -lp[t] + eps_i * -sum(lp)
            count += 1
            correct += int(max(range(VOCAB), key=lambda v: logits[v]) == t)
    return loss, nll, count, correct


@pytest.mark.parametrize("sentence_avg", [False, True])
def test_cross_entropy_by_hand(sentence_avg: bool) -> None:
    crit = criterion("cross_entropy", sentence_avg=sentence_avg)
    model = SequenceModel(LOGITS)
    loss, sample_size, log = crit(model, sequence_sample())
    _, nll, count, _ = hand_losses(0.0)
    assert count == NTOKENS
    assert loss.item() == pytest.approx(nll, rel=1e-6)
    assert sample_size == (2 if sentence_avg else NTOKENS)
    assert log["loss"].item() == pytest.approx(nll, rel=1e-6)
    assert log["nll_loss"].item() == pytest.approx(nll, rel=1e-6)
    assert (log["ntokens"], log["nsentences"], log["sample_size"]) == (NTOKENS, 2, sample_size)
    loss.backward()
    assert model.logits.grad[1, 2].abs().sum() == 0  # the padded position gets no gradient
    assert model.logits.grad[0].abs().sum() > 0


@pytest.mark.parametrize("sentence_avg", [False, True])
@pytest.mark.parametrize("eps", [0.0, 0.1, 0.3])
def test_label_smoothed_cross_entropy_by_hand(eps: float, sentence_avg: bool) -> None:
    crit = criterion("label_smoothed_cross_entropy", label_smoothing=eps, sentence_avg=sentence_avg)
    loss, sample_size, log = crit(SequenceModel(LOGITS), sequence_sample())
    expected_loss, expected_nll, _, _ = hand_losses(eps)
    assert loss.item() == pytest.approx(expected_loss, rel=1e-6)
    assert log["loss"].item() == pytest.approx(expected_loss, rel=1e-6)
    assert log["nll_loss"].item() == pytest.approx(expected_nll, rel=1e-6)
    assert sample_size == (2 if sentence_avg else NTOKENS)
    assert "n_correct" not in log
    if eps == 0.0:
        ce_loss, _, _ = criterion("cross_entropy")(SequenceModel(LOGITS), sequence_sample())
        assert loss.item() == pytest.approx(ce_loss.item(), rel=1e-6)


def test_ignore_prefix_size_drops_leading_targets() -> None:
    crit = criterion(
        "label_smoothed_cross_entropy", label_smoothing=0.1, ignore_prefix_size=1, report_accuracy=True
    )
    loss, _, log = crit(SequenceModel(LOGITS), sequence_sample())
    expected_loss, expected_nll, count, correct = hand_losses(0.1, prefix=1)
    assert count == 3
    assert loss.item() == pytest.approx(expected_loss, rel=1e-6)
    assert log["nll_loss"].item() == pytest.approx(expected_nll, rel=1e-6)
    assert (log["total"], log["n_correct"]) == (count, correct)


def test_report_accuracy_counts_argmax_hits_on_non_pad_targets() -> None:
    crit = criterion("label_smoothed_cross_entropy", label_smoothing=0.1, report_accuracy=True)
    _, _, log = crit(SequenceModel(LOGITS), sequence_sample())
    _, _, count, correct = hand_losses(0.1)
    assert (log["total"], log["n_correct"]) == (count, correct) == (5, 3)


@pytest.mark.parametrize("name", ["cross_entropy", "label_smoothed_cross_entropy"])
def test_unreduced_loss_is_per_target_with_zero_at_padding(name: str) -> None:
    crit = criterion(name, label_smoothing=0.1)
    loss, _, log = crit(SequenceModel(LOGITS), sequence_sample(), reduce=False)
    assert loss.shape == (6,)
    assert loss[5].item() == 0.0
    assert log["loss"].item() == pytest.approx(loss.sum().item())


@pytest.mark.parametrize("name", ["cross_entropy", "label_smoothed_cross_entropy"])
def test_classifier_with_bare_tensor_output(name: str) -> None:
    logits = [[0.1, 2.0, -1.0, 0.5, 0.0], [1.0, 0.0, 0.0, 3.0, -2.0], [0.0, 0.5, 0.0, 0.0, 0.0]]
    target = torch.tensor([4, 3, 0])
    sample = {
        "id": torch.arange(3),
        "nsentences": 3,
        "ntokens": 3,
        "net_input": {"src_tokens": torch.zeros(3, 2, dtype=torch.long), "src_lengths": torch.full((3,), 2)},
        "target": target,
    }
    crit = criterion(name, label_smoothing=0.2, report_accuracy=True)
    loss, sample_size, log = crit(Classifier(logits), sample)
    nll = sum(-log_softmax(row)[t] for row, t in zip(logits, target.tolist()))
    smooth = sum(-sum(log_softmax(row)) for row in logits)
    expected = nll if name == "cross_entropy" else (1 - 0.2 - 0.05) * nll + 0.05 * smooth
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    assert sample_size == 3
    assert log["nll_loss"].item() == pytest.approx(nll, rel=1e-6)
    if name == "label_smoothed_cross_entropy":
        assert (log["n_correct"], log["total"]) == (1, 3)  # only the second argmax (3) is right


def test_ignore_prefix_size_needs_sequence_targets() -> None:
    crit = criterion("label_smoothed_cross_entropy", ignore_prefix_size=1)
    sample = {"ntokens": 2, "net_input": {"src_tokens": torch.zeros(2, 1), "src_lengths": torch.ones(2)},
              "target": torch.tensor([0, 2])}  # fmt: skip
    with pytest.raises(ConfigError, match="--ignore-prefix-size"):
        crit(Classifier([[0.0] * VOCAB, [1.0] * VOCAB]), sample)


def test_bad_label_smoothing_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="--label-smoothing"):
        criterion("label_smoothed_cross_entropy", label_smoothing=1.0)


# --- reduce_metrics ------------------------------------------------------------------------------

BIG_LOGITS = torch.randn(4, 3, VOCAB, generator=torch.Generator().manual_seed(3)).tolist()
BIG_TARGET = [[4, 2, 3], [2, 3, PAD], [0, PAD, PAD], [3, 3, 2]]


def reduced(cls: type, groups: list[list[dict]]) -> dict[str, float]:
    """Reduce each group of logging outputs in turn into one fresh aggregator; return the averages."""
    with metrics.aggregate(new_root=True) as agg:
        for logs in groups:
            cls.reduce_metrics(logs)
    return {key: agg.get_smoothed_value(key) for key in agg} | {
        f"{k}_avg": agg[k].avg for k in ("loss", "nll_loss")
    }


def summed(logs: list[dict]) -> dict:
    """Sum logging outputs key by key, as the trainer does when they can be summed."""
    out: dict = {}
    for log in logs:
        for k, v in log.items():
            out[k] = out.get(k, 0) + v
    return out


@pytest.mark.parametrize("sentence_avg", [False, True])
@pytest.mark.parametrize("name", ["cross_entropy", "label_smoothed_cross_entropy"])
def test_reduce_metrics_same_whether_summed_or_split(name: str, sentence_avg: bool) -> None:
    crit = criterion(name, label_smoothing=0.1, report_accuracy=True, sentence_avg=sentence_avg)
    assert crit.logging_outputs_can_be_summed()
    model = SequenceModel(BIG_LOGITS)
    _, _, whole = crit(model, sequence_sample(BIG_TARGET))
    parts = [crit(model, sequence_sample(BIG_TARGET[i : i + 2], rows=[i, i + 1]))[2] for i in (0, 2)]
    reordered = [crit(model, sequence_sample(BIG_TARGET[2:] + BIG_TARGET[:2], rows=[2, 3, 0, 1]))[2]]

    one_batch = reduced(type(crit), [[whole]])
    for groups in ([parts], [[p] for p in parts], [[summed(parts)]], [reordered]):
        assert reduced(type(crit), groups) == pytest.approx(one_batch)

    # loss per sample_size and nll_loss per token, in base 2; ppl = 2 ** nll_loss
    sample_size = 4 if sentence_avg else 9
    assert one_batch["loss_avg"] == pytest.approx(whole["loss"].item() / sample_size / math.log(2))
    assert one_batch["nll_loss_avg"] == pytest.approx(whole["nll_loss"].item() / 9 / math.log(2))
    assert one_batch["ppl"] == pytest.approx(round(2 ** one_batch["nll_loss_avg"], 2))
    if name == "label_smoothed_cross_entropy":
        assert one_batch["accuracy"] == pytest.approx(round(100.0 * whole["n_correct"] / whole["total"], 3))


def test_reduce_metrics_of_an_empty_batch_adds_nothing() -> None:
    crit = criterion("cross_entropy")
    _, _, log = crit(SequenceModel(LOGITS), sequence_sample())
    empty = {
        "loss": torch.tensor(0.0),
        "nll_loss": torch.tensor(0.0),
        "ntokens": 0,
        "nsentences": 0,
        "sample_size": 0,
    }
    assert reduced(type(crit), [[log], [empty]]) == pytest.approx(reduced(type(crit), [[log]]))
