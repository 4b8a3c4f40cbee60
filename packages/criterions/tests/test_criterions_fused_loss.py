"""The loss computed from logits with a closed-form backward equals the log-softmax formulation."""

from __future__ import annotations

import argparse
from typing import Any

import pytest
import torch
import torch.nn.functional as F

from seqlab.core import BaseModel, build_criterion
from seqlab.criterions.fused_smoothed_loss import normalizes_with_plain_log_softmax, smoothed_cross_entropy
from seqlab.criterions.label_smoothed_cross_entropy import label_smoothed_nll_loss

PAD = 1


def _batch(n: int, v: int, dtype: torch.dtype, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    logits = (3 * torch.randn(n, v, generator=gen)).to(dtype)
    target = torch.randint(0, v, (n,), generator=gen)
    target[::4] = PAD  # every fourth position is padding
    return logits, target


@pytest.mark.parametrize("eps", [0.0, 0.1, 0.3])
@pytest.mark.parametrize("weights", [(1.0, 0.0), (0.7, 0.0), (1.0, 0.5)], ids=["loss", "scaled", "loss+nll"])
def test_loss_and_gradient_equal_the_log_softmax_formulation(
    eps: float, weights: tuple[float, float]
) -> None:
    logits, target = _batch(37, 11, torch.float64)
    fast_in, ref_in = logits.clone().requires_grad_(), logits.clone().requires_grad_()
    fast = smoothed_cross_entropy(fast_in, target, eps, PAD)
    ref = label_smoothed_nll_loss(F.log_softmax(ref_in, dim=-1), target, eps, ignore_index=PAD)
    for a, b in zip(fast, ref, strict=True):
        torch.testing.assert_close(a.double(), b.double(), rtol=1e-6, atol=1e-6)
    (weights[0] * fast[0] + weights[1] * fast[1]).backward()
    (weights[0] * ref[0] + weights[1] * ref[1]).backward()
    torch.testing.assert_close(fast_in.grad, ref_in.grad, rtol=1e-5, atol=1e-6)
    assert fast_in.grad[target == PAD].abs().max() == 0


def test_low_precision_logits_get_a_gradient_of_their_dtype() -> None:
    logits, target = _batch(16, 9, torch.bfloat16)
    logits.requires_grad_()
    loss, _ = smoothed_cross_entropy(logits, target, 0.1, PAD)
    assert loss.dtype == torch.float32
    loss.backward()
    assert logits.grad.dtype == torch.bfloat16


def test_a_second_backward_is_refused_not_wrong() -> None:
    logits, target = _batch(8, 5, torch.float32)
    logits.requires_grad_()
    loss, _ = smoothed_cross_entropy(logits, target, 0.1, PAD)
    loss.backward(retain_graph=True)
    with pytest.raises(RuntimeError, match="second backward"):
        loss.backward()


class _Dictionary:
    def pad(self) -> int:
        return PAD


class _Task:
    target_dictionary = _Dictionary()


class Logits(BaseModel):
    """Returns fixed ``(logits B x T x V, extra)``."""

    def __init__(self, logits: torch.Tensor) -> None:
        super().__init__()
        self.logits = torch.nn.Parameter(logits)

    def forward(self, src_tokens: torch.Tensor) -> Any:
        return self.logits, {}


class Tempered(Logits):
    """Normalizes its own way: the criterion must use it rather than the fused loss."""

    def get_normalized_probs(self, net_output: Any, log_probs: bool, sample: Any = None) -> torch.Tensor:
        return F.log_softmax(net_output[0] / 2.0, dim=-1)


@pytest.mark.parametrize("model_class", [Logits, Tempered])
def test_criterion_uses_the_fused_loss_only_for_plain_log_softmax_models(model_class: type) -> None:
    logits, target = _batch(12, 7, torch.float32)
    model = model_class(logits.view(3, 4, 7))
    assert normalizes_with_plain_log_softmax(model) == (model_class is Logits)
    args = argparse.Namespace(criterion="label_smoothed_cross_entropy", label_smoothing=0.1)
    criterion = build_criterion(args, _Task())
    sample = {"net_input": {"src_tokens": target}, "target": target.view(3, 4), "ntokens": 9}
    loss, _, _ = criterion(model, sample)
    expected, _ = label_smoothed_nll_loss(
        model.get_normalized_probs(model(target), log_probs=True).view(12, 7), target, 0.1, ignore_index=PAD
    )
    torch.testing.assert_close(loss, expected)


def _projected(seed: int, squash: bool) -> tuple[torch.Tensor, torch.Tensor, torch.nn.Linear, torch.Tensor]:
    torch.manual_seed(seed)
    features = torch.randn(3, 6, 8)
    proj = torch.nn.Linear(8, 13, bias=False)
    logits = proj(features)
    if squash:  # tanh's backward reads its output: that output must not be overwritten
        logits = 4 * torch.tanh(logits)
    _, target = _batch(18, 13, torch.float32, seed)
    return logits.reshape(-1, 13), target, proj, features


@pytest.mark.parametrize("squash", [False, True], ids=["matmul-output", "tanh-output"])
def test_overwriting_the_logits_gives_the_same_loss_and_gradients(squash: bool) -> None:
    logits, target, proj, _ = _projected(0, squash)
    before = logits.detach().clone()
    loss, nll = smoothed_cross_entropy(logits, target, 0.1, PAD, overwrite_logits=True)
    overwritten = not torch.equal(logits.detach(), before)
    assert overwritten is not squash
    if overwritten:  # the logits became their log-probabilities, bit for bit
        assert torch.equal(logits.detach(), F.log_softmax(before, dim=-1))
    loss.backward()
    got = proj.weight.grad.clone()
    logits, target, proj, _ = _projected(0, squash)
    want_loss, want_nll = smoothed_cross_entropy(logits, target, 0.1, PAD)
    want_loss.backward()
    assert torch.equal(loss, want_loss) and torch.equal(nll, want_nll)
    assert torch.equal(got, proj.weight.grad)
