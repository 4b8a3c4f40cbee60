"""``adaptive_loss`` is the negative log-likelihood of the adaptive softmax's whole distribution."""

from __future__ import annotations

import pytest
import torch

from seqlab.core import ConfigError
from seqlab.core.testing.batches import translation_batch
from seqlab.core.testing.dummy_model import DummyTranslationModel
from seqlab.core.testing.dummy_task import DummyTask
from seqlab.criterions.adaptive_loss import AdaptiveLoss


def _batch_with_every_band(task, model):
    sample = translation_batch(task.source_dictionary, task.target_dictionary, seed=3)
    target = sample["target"]
    pad = task.target_dictionary.pad()
    cutoff = model.decoder.adaptive_softmax.cutoff
    # a tail word whose index inside the tail equals the padding index: fairseq's criterion drops it
    target[0, 0] = cutoff + pad
    target[1, 0] = cutoff - 1
    return sample, target, pad


def _reference_nll(model, sample, target, pad):
    features, _ = model(**sample["net_input"])
    lprobs = model.decoder.adaptive_softmax.log_prob(features)
    nll = -lprobs.gather(-1, target.unsqueeze(-1)).squeeze(-1)
    return nll.masked_fill(target.eq(pad), 0.0)


def test_loss_is_the_nll_of_the_whole_distribution_with_every_band(adaptive_toy_model):
    task = DummyTask()
    model = adaptive_toy_model(task).eval()
    sample, target, pad = _batch_with_every_band(task, model)
    assert bool(target.eq(pad).any()), "the batch must hold padding"
    loss, sample_size, log = AdaptiveLoss(task)(model, sample)
    expected = _reference_nll(model, sample, target, pad)
    torch.testing.assert_close(loss, expected.sum(), rtol=1e-5, atol=1e-5)
    assert sample_size == sample["ntokens"] == int(target.ne(pad).sum())
    assert float(log["nll_loss"]) == pytest.approx(float(expected.sum().detach()), rel=1e-5)


def test_unreduced_losses_are_per_target_and_zero_at_padding(adaptive_toy_model):
    task = DummyTask()
    model = adaptive_toy_model(task).eval()
    sample, target, pad = _batch_with_every_band(task, model)
    loss, _, _ = AdaptiveLoss(task)(model, sample, reduce=False)
    expected = _reference_nll(model, sample, target, pad).reshape(-1)
    torch.testing.assert_close(loss, expected, rtol=1e-5, atol=1e-5)


def test_gradients_reach_both_bands_and_skip_padding(adaptive_toy_model):
    task = DummyTask()
    model = adaptive_toy_model(task).train()
    sample, _, _ = _batch_with_every_band(task, model)
    loss, _, _ = AdaptiveLoss(task)(model, sample)
    loss.backward()
    softmax = model.decoder.adaptive_softmax
    assert softmax.head.weight.grad.abs().sum() > 0 and softmax.tail.weight.grad.abs().sum() > 0


def test_a_model_without_an_adaptive_softmax_is_a_one_line_config_error():
    task = DummyTask()
    model = DummyTranslationModel(task.source_dictionary, task.target_dictionary)
    sample = translation_batch(task.source_dictionary, task.target_dictionary)
    with pytest.raises(ConfigError, match="--criterion adaptive_loss needs a model with an adaptive softmax"):
        AdaptiveLoss(task)(model, sample)
