"""Each optimizer takes real steps that match torch.optim's update, and survives a checkpoint."""

from __future__ import annotations

import argparse
import copy
import io
from collections.abc import Callable

import pytest
import torch
from torch import nn

from seqlab.core import ConfigError, Optimizer, build_optimizer

ALL = ("adam", "adamw", "sgd", "nag", "adagrad", "adafactor")


def tiny_model(seed: int = 0) -> nn.Module:
    """A 2-layer MLP: matrices and vectors (factored and unfactored for Adafactor)."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3))


def backward(
    model: nn.Module, step: int, scale: float = 1.0, scaler: torch.amp.GradScaler | None = None
) -> None:
    """Fill ``model``'s gradients from a loss that differs at every step (scaled if asked)."""
    g = torch.Generator().manual_seed(1000 + step)
    dtype = next(model.parameters()).dtype
    x, y = torch.randn(5, 4, generator=g).to(dtype), torch.randn(5, 3, generator=g).to(dtype)
    model.zero_grad(set_to_none=True)
    loss = ((model(x) - y) ** 2).sum() * scale
    (scaler.scale(loss) if scaler is not None else loss).backward()


def roundtrip(state: dict) -> dict:
    """Save and reload as a checkpoint does (``torch.load(weights_only=True)``)."""
    buf = io.BytesIO()
    torch.save(state, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


def assert_same(a: nn.Module, b: nn.Module, atol: float = 0.0, rtol: float = 0.0) -> None:
    """Assert two models hold the same parameter values."""
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(pa, pb, atol=atol, rtol=rtol)


def build(name: str, model: nn.Module, **options: object) -> Optimizer:
    """Build a seqlab optimizer by name from flat args."""
    args = argparse.Namespace(optimizer=name, lr=[options.pop("lr", 0.01)], **options)
    return build_optimizer(args, model.parameters())


# name -> (seqlab options, torch reference factory); the reference defines the expected update.
TORCH_REFERENCES: dict[str, tuple[dict, Callable[[list, float], torch.optim.Optimizer]]] = {
    "adam": (
        {"adam_betas": "(0.9, 0.98)", "adam_eps": 1e-6, "weight_decay": 0.1},
        lambda p, lr: torch.optim.AdamW(
            p, lr=lr, betas=(0.9, 0.98), eps=1e-6, weight_decay=0.1, foreach=False
        ),
    ),
    "adamw": ({}, lambda p, lr: torch.optim.AdamW(p, lr=lr, foreach=False)),
    "sgd": (
        {"momentum": 0.9, "weight_decay": 0.01},
        lambda p, lr: torch.optim.SGD(p, lr=lr, momentum=0.9, weight_decay=0.01, foreach=False),
    ),
    "adagrad": (
        {"weight_decay": 0.01},
        lambda p, lr: torch.optim.Adagrad(p, lr=lr, weight_decay=0.01, foreach=False),
    ),
    # fairseq's NAG equals torch's Nesterov SGD at a constant lr without weight decay
    "nag": (
        {"momentum": 0.9},
        lambda p, lr: torch.optim.SGD(p, lr=lr, momentum=0.9, nesterov=True, foreach=False),
    ),
}


@pytest.mark.parametrize("name", sorted(TORCH_REFERENCES))
def test_steps_match_torch_optim(name: str) -> None:
    options, make_reference = TORCH_REFERENCES[name]
    ours_model, ref_model = tiny_model(), tiny_model()
    ours = build(name, ours_model, lr=0.05, **options)
    ref = make_reference(list(ref_model.parameters()), 0.05)
    before = [p.detach().clone() for p in ours_model.parameters()]
    for step in range(4):
        backward(ours_model, step)
        backward(ref_model, step)
        ours.step()
        ref.step()
    assert_same(ours_model, ref_model, atol=1e-6, rtol=1e-5)
    assert any(not torch.equal(b, p) for b, p in zip(before, ours_model.parameters())), "no update happened"


def test_adam_weight_decay_is_decoupled() -> None:
    # With zero gradients Adam's moment update is zero, so only the decay moves the weights:
    # decoupled decay scales them by exactly (1 - lr * wd); an L2 term would move them by ~lr.
    model = tiny_model()
    opt = build("adam", model, lr=0.1, weight_decay=0.5)
    before = [p.detach().clone() for p in model.parameters()]
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    opt.step()
    for b, p in zip(before, model.parameters()):
        torch.testing.assert_close(p.detach(), b * (1 - 0.1 * 0.5))


def test_adam_reads_fairseq_betas_string() -> None:
    opt = build("adam", tiny_model(), adam_betas="(0.9, 0.98)")
    assert opt.param_groups[0]["betas"] == (0.9, 0.98)
    assert opt.optimizer_config["betas"] == (0.9, 0.98)


def test_adamw_defaults_are_torchs() -> None:
    group = build("adamw", tiny_model()).param_groups[0]
    assert (group["weight_decay"], group["betas"], group["eps"]) == (0.01, (0.9, 0.999), 1e-8)


def test_bad_betas_name_the_flag() -> None:
    with pytest.raises(ConfigError, match="--adam-betas"):
        build("adam", tiny_model(), adam_betas="(0.9)")


def test_missing_lr_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="--lr"):
        build_optimizer(argparse.Namespace(optimizer="sgd"), tiny_model().parameters())


def test_cpu_parameters_take_the_fused_path() -> None:
    for name in ("adam", "adamw", "sgd", "adagrad"):
        assert build(name, tiny_model()).param_groups[0]["fused"] is True, name


def _options(name: str) -> dict:
    if name == "adafactor":
        return {"beta1": 0.9, "weight_decay": 0.01}
    return dict(TORCH_REFERENCES[name][0])


@pytest.mark.parametrize("name", ALL)
def test_state_dict_round_trips_through_a_checkpoint(name: str) -> None:
    model = tiny_model()
    opt = build(name, model, **_options(name))
    for step in range(3):
        opt.set_lr(0.01 * (step + 1))  # a changing lr, as under a schedule (NAG keeps lr_old)
        backward(model, step)
        opt.step()
    state = roundtrip(opt.state_dict())

    resumed_model = copy.deepcopy(model)
    resumed = build(name, resumed_model, **_options(name))
    resumed.load_state_dict(state)
    assert resumed.get_lr() == pytest.approx(opt.get_lr())
    for step in range(3, 6):
        for m, o in ((model, opt), (resumed_model, resumed)):
            backward(m, step)
            o.step()
    assert_same(model, resumed_model)

    # without the state the run diverges, so the comparison above can fail
    fresh_model = copy.deepcopy(resumed_model)
    fresh = build(name, fresh_model, **_options(name))
    for m, o in ((resumed_model, resumed), (fresh_model, fresh)):
        o.set_lr(0.03)
        backward(m, 6)
        o.step()
    assert any(not torch.equal(a, b) for a, b in zip(resumed_model.parameters(), fresh_model.parameters()))


@pytest.mark.parametrize("name", ALL)
def test_load_state_dict_applies_optimizer_overrides(name: str) -> None:
    model = tiny_model()
    opt = build(name, model, **_options(name))
    backward(model, 0)
    opt.step()
    resumed = build(name, copy.deepcopy(model), **_options(name))
    resumed.load_state_dict(roundtrip(opt.state_dict()), {"lr": 0.123})
    assert resumed.get_lr() == 0.123


@pytest.mark.parametrize("name", ALL)
def test_base_class_helpers_drive_the_update(name: str) -> None:
    # set_lr, multiply_grads, clip_grad_norm and step(scale=...) on ours must give the same
    # parameters as doing the same by hand to the gradients of an identical optimizer.
    model, hand_model = tiny_model(), tiny_model()
    opt = build(name, model, **_options(name))
    hand = build(name, hand_model, **_options(name))
    opt.set_lr(0.02)
    hand.set_lr(0.02)
    assert opt.get_lr() == 0.02

    backward(model, 0, scale=8.0)
    backward(hand_model, 0)
    opt.step(scale=8.0)  # loss scaling: the step divides the gradients by the scale first
    hand.step()
    assert_same(model, hand_model, atol=1e-6, rtol=1e-5)

    backward(model, 1)
    backward(hand_model, 1)
    opt.multiply_grads(0.5)
    for p in hand_model.parameters():
        p.grad.mul_(0.5)
    norm = opt.clip_grad_norm(0.1)
    expected_norm = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in hand_model.parameters()]))
    torch.testing.assert_close(norm, expected_norm)
    assert norm > 0.1
    torch.nn.utils.clip_grad_norm_(list(hand_model.parameters()), 0.1)
    opt.step()
    hand.step()
    assert_same(model, hand_model, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("unscale_first", [True, False])
def test_works_with_torch_grad_scaler(name: str, unscale_first: bool) -> None:
    model, plain_model = tiny_model(), tiny_model()
    opt = build(name, model, **_options(name))
    plain = build(name, plain_model, **_options(name))
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**10)
    backward(model, 0, scaler=scaler)
    if unscale_first:
        scaler.unscale_(opt.optimizer)
        opt.clip_grad_norm(1.0)
    scaler.step(opt.optimizer)
    scaler.update()
    backward(plain_model, 0)
    if unscale_first:
        plain.clip_grad_norm(1.0)
    plain.step()
    assert_same(model, plain_model, atol=1e-6, rtol=1e-5)

    # an overflowed step is skipped and the scale backs off
    before = [p.detach().clone() for p in model.parameters()]
    backward(model, 1, scaler=scaler)
    next(model.parameters()).grad[0, 0] = float("inf")
    scaler.step(opt.optimizer)
    scaler.update()
    assert all(torch.equal(b, p) for b, p in zip(before, model.parameters()))
    assert scaler.get_scale() < 2.0**10


@pytest.mark.parametrize("name", ALL)
def test_updates_low_precision_parameters(name: str) -> None:
    model = tiny_model().to(torch.bfloat16)
    opt = build(name, model, **_options(name))
    before = [p.detach().clone() for p in model.parameters()]
    backward(model, 0)
    opt.step()
    for b, p in zip(before, model.parameters()):
        assert p.dtype == torch.bfloat16
        assert not torch.equal(b, p)
        assert torch.isfinite(p).all()


@pytest.mark.parametrize("name", ["nag", "adafactor"])
def test_memory_efficient_fp16_updates_in_fp32(name: str) -> None:
    # bf16 weights and grads, updated in fp32 and written back: the same as an fp32 update
    # of the same values, rounded to bf16 once.
    low = tiny_model().to(torch.bfloat16)
    high = copy.deepcopy(low).float()
    opt_low, opt_high = build(name, low, **_options(name)), build(name, high, **_options(name))
    assert opt_low.supports_memory_efficient_fp16
    backward(low, 0)
    for pl, ph in zip(low.parameters(), high.parameters()):
        ph.grad = pl.grad.float()
    opt_low.step()
    opt_high.step()
    for pl, ph in zip(low.parameters(), high.parameters()):
        torch.testing.assert_close(pl, ph.to(torch.bfloat16), atol=0, rtol=0)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("name", sorted(TORCH_REFERENCES))
def test_cuda_fast_path_matches_torch_optim(name: str) -> None:
    options, make_reference = TORCH_REFERENCES[name]
    ours_model, ref_model = tiny_model().cuda(), tiny_model().cuda()
    ours = build(name, ours_model, lr=0.05, **options)
    ref = make_reference(list(ref_model.parameters()), 0.05)
    group = ours.param_groups[0]
    if name in ("adam", "adamw", "sgd"):
        assert group["fused"] is True
    elif name == "adagrad":
        assert group["foreach"] is True
    for step in range(4):
        backward(ours_model, step)
        backward(ref_model, step)
        ours.step()
        ref.step()
    assert_same(ours_model, ref_model, atol=1e-5, rtol=1e-4)
