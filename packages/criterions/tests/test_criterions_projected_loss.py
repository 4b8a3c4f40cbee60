"""The loss that projects features block by block equals the loss over whole logits, and is used only where it may be."""

from __future__ import annotations

import argparse
from typing import Any

import pytest
import torch
import torch.nn.functional as F

from seqlab.core import build_criterion
from seqlab.core.decoder import Decoder
from seqlab.core.model import LanguageModel
from seqlab.criterions import label_smoothed_cross_entropy as lsce
from seqlab.criterions.label_smoothed_cross_entropy import label_smoothed_nll_loss
from seqlab.criterions.projected_smoothed_loss import (
    blockwise_projection_weight,
    projected_smoothed_cross_entropy,
)

PAD = 1


def _inputs(n: int, c: int, v: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    features = torch.randn(n, c, generator=gen, dtype=torch.float64)
    weight = torch.randn(v, c, generator=gen, dtype=torch.float64)
    target = torch.randint(0, v, (n,), generator=gen)
    target[::4] = PAD
    return features, weight, target


@pytest.mark.parametrize("rows", [1, 5, 37, 64])
@pytest.mark.parametrize("eps", [0.0, 0.1])
@pytest.mark.parametrize("weights", [(1.0, 0.0), (0.7, 0.0), (1.0, 0.5)], ids=["loss", "scaled", "loss+nll"])
def test_blocks_give_the_whole_logits_loss_and_gradients(
    rows: int, eps: float, weights: tuple[float, float]
) -> None:
    features, weight, target = _inputs(37, 6, 11)
    f1, w1 = features.clone().requires_grad_(), weight.clone().requires_grad_()
    f2, w2 = features.clone().requires_grad_(), weight.clone().requires_grad_()
    got = projected_smoothed_cross_entropy(f1, w1, target, eps, PAD, rows=rows)
    want = label_smoothed_nll_loss(F.log_softmax(f2 @ w2.t(), dim=-1), target, eps, ignore_index=PAD)
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b)
    (weights[0] * got[0] + weights[1] * got[1]).backward()
    (weights[0] * want[0] + weights[1] * want[1]).backward()
    torch.testing.assert_close(f1.grad, f2.grad)
    torch.testing.assert_close(w1.grad, w2.grad)
    assert f1.grad[target == PAD].abs().max() == 0


def test_padding_rows_are_left_out_before_the_products(monkeypatch: pytest.MonkeyPatch) -> None:
    from seqlab.criterions import projected_smoothed_loss as psl

    seen = []
    blocks = psl._blocks

    def counting_blocks(features, *args, **kwargs):
        seen.append(features.size(0))
        return blocks(features, *args, **kwargs)

    monkeypatch.setattr(psl, "_blocks", counting_blocks)
    features, weight, target = _inputs(40, 6, 11)
    f = features.clone().requires_grad_()
    loss, _ = projected_smoothed_cross_entropy(f, weight, target, 0.1, PAD, rows=8)
    loss.backward()
    assert seen == [int(target.ne(PAD).sum())] and seen[0] < 40
    assert f.grad[target == PAD].abs().max() == 0 and f.grad[target != PAD].abs().min() > 0
    # a batch with nothing to count scores 0 and sends no gradient
    empty = features.clone().requires_grad_()
    loss, nll = projected_smoothed_cross_entropy(empty, weight, torch.full_like(target, PAD), 0.1, PAD)
    loss.backward()
    assert loss.item() == nll.item() == 0 and empty.grad.abs().max() == 0


def test_a_frozen_weight_gets_no_gradient_and_no_grad_mode_still_scores() -> None:
    features, weight, target = _inputs(20, 4, 9)
    f = features.clone().requires_grad_()
    loss, _ = projected_smoothed_cross_entropy(f, weight, target, 0.1, PAD, rows=8)
    loss.backward()
    assert weight.grad is None and f.grad is not None
    with torch.no_grad():
        loss_ng, nll_ng = projected_smoothed_cross_entropy(features, weight, target, 0.1, PAD, rows=8)
    torch.testing.assert_close(loss_ng, loss.detach())
    want, want_nll = label_smoothed_nll_loss(
        F.log_softmax(features @ weight.t(), dim=-1), target, 0.1, ignore_index=PAD
    )
    torch.testing.assert_close((loss_ng, nll_ng), (want, want_nll))


def test_a_retained_graph_gives_the_same_gradient_again() -> None:
    features, weight, target = _inputs(12, 4, 7)
    f = features.clone().requires_grad_()
    loss, _ = projected_smoothed_cross_entropy(f, weight, target, 0.1, PAD, rows=5)
    loss.backward(retain_graph=True)
    once = f.grad.clone()
    loss.backward()
    torch.testing.assert_close(f.grad, 2 * once)


class _Dictionary:
    def pad(self) -> int:
        return PAD


class _Task:
    target_dictionary = _Dictionary()


class ToyDecoder(Decoder):
    """Embeds tokens, squashes them, and projects with a plain weight matrix."""

    def __init__(self, vocab: int, dim: int) -> None:
        super().__init__(_Dictionary())
        self.embed = torch.nn.Embedding(vocab, dim)
        self.proj = torch.nn.Parameter(torch.randn(vocab, dim) / dim**0.5)

    def extract_features(
        self, prev_output_tokens: torch.Tensor, encoder_out: Any = None, **kwargs: Any
    ) -> Any:
        return torch.tanh(self.embed(prev_output_tokens)), {}

    def output_layer(self, features: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return F.linear(features, self.proj)

    def output_projection_weight(self) -> torch.Tensor | None:
        return self.proj


class ToyLM(LanguageModel):
    @classmethod
    def build_model(cls, args: Any, task: Any) -> ToyLM:
        return cls(ToyDecoder(13, 8))


class OwnForward(ToyLM):
    """Replaces ``forward``: nothing says it passes ``features_only`` on."""

    def forward(self, src_tokens: torch.Tensor, **kwargs: Any) -> Any:
        logits, extra = self.decoder(src_tokens)
        return logits, extra


class Tempered(ToyLM):
    """Normalizes its own way: the loss must start from its log-probabilities."""

    def get_normalized_probs(self, net_output: Any, log_probs: bool, sample: Any = None) -> torch.Tensor:
        return F.log_softmax(net_output[0] / 2.0, dim=-1)


def _sample() -> dict[str, Any]:
    gen = torch.Generator().manual_seed(3)
    tokens = torch.randint(2, 13, (3, 5), generator=gen)
    target = torch.randint(2, 13, (3, 5), generator=gen)
    target[0, 3:] = PAD
    return {"net_input": {"src_tokens": tokens}, "target": target, "ntokens": int(target.ne(PAD).sum())}


def _loss_and_grads(model: torch.nn.Module, **options: Any) -> tuple[torch.Tensor, list[torch.Tensor]]:
    args = argparse.Namespace(criterion="label_smoothed_cross_entropy", label_smoothing=0.1, **options)
    criterion = build_criterion(args, _Task())
    model.zero_grad()
    loss, _, _ = criterion(model, _sample())
    loss.backward()
    return loss.detach(), [p.grad.clone() for p in model.parameters()]


@pytest.mark.parametrize("prefix", [0, 2])
def test_criterion_projects_in_blocks_with_the_same_loss_and_gradients(
    prefix: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    torch.manual_seed(0)
    model = ToyLM.build_model(None, _Task())
    assert blockwise_projection_weight(model) is model.decoder.proj
    calls = []
    real = lsce.projected_smoothed_cross_entropy
    monkeypatch.setattr(
        lsce, "projected_smoothed_cross_entropy", lambda *a, **k: calls.append(1) or real(*a, **k)
    )
    got, got_grads = _loss_and_grads(model, ignore_prefix_size=prefix)
    assert calls, "the criterion did not take the blockwise path"
    # reporting accuracy needs the logits: the criterion computes them as before
    want, want_grads = _loss_and_grads(model, ignore_prefix_size=prefix, report_accuracy=True)
    assert len(calls) == 1
    torch.testing.assert_close(got, want)
    for a, b in zip(got_grads, want_grads, strict=True):
        torch.testing.assert_close(a, b)


def test_blockwise_projection_only_where_the_logits_are_a_plain_product() -> None:
    torch.manual_seed(0)
    assert blockwise_projection_weight(OwnForward.build_model(None, _Task())) is None
    model = ToyLM.build_model(None, _Task())
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert blockwise_projection_weight(model) is model.decoder.proj
    with torch.autocast("cpu", dtype=torch.float16):  # fp16's gradients need the loss scale first
        assert blockwise_projection_weight(model) is None
    assert blockwise_projection_weight(Tempered.build_model(None, _Task())) is None
    assert blockwise_projection_weight(ToyLM.build_model(None, _Task()).to(torch.bfloat16)) is None
    plain = ToyLM.build_model(None, _Task())
    plain.decoder.output_projection_weight = lambda: None
    assert blockwise_projection_weight(plain) is None


def test_strided_features_give_the_same_loss_and_gradients() -> None:
    features, weight, target = _inputs(10, 6, 9)
    strided = features.t().contiguous().t().requires_grad_()  # column-major: a row block is not contiguous
    dense = features.clone().requires_grad_()
    got = projected_smoothed_cross_entropy(strided, weight, target, 0.1, PAD, rows=3)
    want = projected_smoothed_cross_entropy(dense, weight, target, 0.1, PAD, rows=3)
    torch.testing.assert_close(got, want)
    got[0].backward()
    want[0].backward()
    torch.testing.assert_close(strided.grad, dense.grad)


def _bf16_close(a: torch.Tensor, b: torch.Tensor) -> None:
    torch.testing.assert_close(a, b, rtol=2e-2, atol=2e-2 * float(b.abs().max()))


@pytest.mark.parametrize("weights", [(1.0, 0.0), (1.0, 0.5)], ids=["loss", "loss+nll"])
def test_bf16_products_give_the_autocast_loss_and_gradients(weights: tuple[float, float]) -> None:
    features, weight, target = (t.float() if t.is_floating_point() else t for t in _inputs(300, 16, 50))
    f1, w1 = features.clone().requires_grad_(), weight.clone().requires_grad_()
    f2, w2 = features.clone().requires_grad_(), weight.clone().requires_grad_()
    got = projected_smoothed_cross_entropy(f1, w1, target, 0.1, PAD, rows=64, compute_dtype=torch.bfloat16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = f2 @ w2.t()
    assert logits.dtype == torch.bfloat16
    want = label_smoothed_nll_loss(F.log_softmax(logits.float(), dim=-1), target, 0.1, ignore_index=PAD)
    assert got[0].dtype == torch.float32
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=0.0)  # the same bf16 logits, summed alike
    (weights[0] * got[0] + weights[1] * got[1]).backward()
    (weights[0] * want[0] + weights[1] * want[1]).backward()
    assert f1.grad.dtype == w1.grad.dtype == torch.float32
    _bf16_close(f1.grad, f2.grad)
    _bf16_close(w1.grad, w2.grad)
    # and not merely close to the fp32 gradient's scale: the bf16 rounding of the products shows
    fp32 = projected_smoothed_cross_entropy(features.requires_grad_(), weight, target, 0.1, PAD, rows=64)
    assert not torch.equal(fp32[0].detach(), got[0].detach())


def test_criterion_under_bf16_autocast_projects_in_blocks_like_autocast(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    torch.manual_seed(0)
    model = ToyLM.build_model(None, _Task())
    calls = []
    real = lsce.projected_smoothed_cross_entropy
    monkeypatch.setattr(
        lsce,
        "projected_smoothed_cross_entropy",
        lambda *a, **k: calls.append(k.get("compute_dtype")) or real(*a, **k),
    )
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got, got_grads = _loss_and_grads(model)
        want, want_grads = _loss_and_grads(model, report_accuracy=True)  # keeps autocast's logits
    assert calls == [torch.bfloat16]
    torch.testing.assert_close(got, want, rtol=1e-4, atol=0.0)
    for a, b in zip(got_grads, want_grads, strict=True):
        _bf16_close(a, b)
