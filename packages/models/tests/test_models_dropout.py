"""The CPU dropout: the right rate, an unbiased output, a gradient through the same mask, reproducible."""

from __future__ import annotations

import pytest
import torch

from seqlab.models.modules.dropout import dropout, keep_mask, residual_dropout


@pytest.mark.parametrize("p", [0.1, 0.3, 0.5])
def test_rate_and_expectation(p: float) -> None:
    torch.manual_seed(0)
    out = dropout(torch.ones(400_000), p, training=True)
    assert (out == 0).float().mean().item() == pytest.approx(p, abs=0.004)
    assert out.mean().item() == pytest.approx(1.0, abs=0.006)


def test_every_lane_of_the_random_words_is_uniform() -> None:
    torch.manual_seed(1)
    kept = keep_mask(torch.Size([4, 200_000]), 0.5, torch.device("cpu"))
    # consecutive elements come from one 64-bit word: each of the four positions must be fair
    lanes = kept.view(-1, 4).float().mean(dim=0)
    assert torch.all((lanes - 0.5).abs() < 0.005), lanes


def test_gradient_goes_through_the_forward_mask() -> None:
    torch.manual_seed(2)
    x = torch.randn(64, 33, requires_grad=True)
    out = dropout(x, 0.25, training=True)
    out.backward(torch.ones_like(out))
    dropped = out == 0
    assert torch.all(x.grad[dropped] == 0)
    torch.testing.assert_close(x.grad[~dropped], torch.full_like(x.grad[~dropped], 1 / 0.75))
    torch.testing.assert_close(out[~dropped], x[~dropped] / 0.75)


def test_same_seed_same_mask_and_identity_when_not_training() -> None:
    x = torch.randn(10, 10)
    torch.manual_seed(3)
    a = dropout(x, 0.2, training=True)
    torch.manual_seed(3)
    assert torch.equal(a, dropout(x, 0.2, training=True))
    assert dropout(x, 0.2, training=False) is x and dropout(x, 0.0, training=True) is x


def test_low_precision_input_keeps_its_dtype() -> None:
    out = dropout(torch.ones(100, dtype=torch.bfloat16), 0.1, training=True)
    assert out.dtype == torch.bfloat16


@pytest.mark.parametrize("training", [True, False])
def test_residual_dropout_is_the_residual_plus_dropout_with_the_same_mask_and_gradients(training) -> None:
    residual = torch.randn(8, 5, 16, requires_grad=True)
    x = torch.randn(8, 5, 16, requires_grad=True)
    torch.manual_seed(4)
    fused = residual_dropout(residual, x, 0.3, training)
    fused.backward(torch.arange(fused.numel(), dtype=torch.float).view_as(fused))
    grads = residual.grad.clone(), x.grad.clone()
    residual.grad = x.grad = None
    torch.manual_seed(4)
    plain = residual + dropout(x, 0.3, training)
    plain.backward(torch.arange(plain.numel(), dtype=torch.float).view_as(plain))
    assert torch.equal(fused, plain)
    assert torch.equal(grads[0], residual.grad) and torch.equal(grads[1], x.grad)
