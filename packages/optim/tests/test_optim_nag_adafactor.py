"""``nag`` and ``adafactor`` have no torch.optim twin: check them against fairseq's formulas written out."""

from __future__ import annotations

import argparse
import math

import pytest
import torch

from seqlab.core import ConfigError, build_optimizer


def make_params(seed: int = 0) -> list[torch.nn.Parameter]:
    """A matrix, a vector and a 3-D tensor (Adafactor factors the last two dimensions)."""
    g = torch.Generator().manual_seed(seed)
    shapes = [(4, 3), (5,), (2, 3, 4)]
    return [torch.nn.Parameter(torch.randn(s, generator=g)) for s in shapes]


def gradient_stream(params: list[torch.Tensor], steps: int) -> list[list[torch.Tensor]]:
    """Gradients for every step, fixed by a seed."""
    g = torch.Generator().manual_seed(7)
    return [[torch.randn(p.shape, generator=g) for p in params] for _ in range(steps)]


def run(
    name: str, params: list[torch.nn.Parameter], grads: list[list[torch.Tensor]], lrs: list[float], **options
):
    """Step a seqlab optimizer through ``grads``, setting the lr before every step."""
    args = argparse.Namespace(optimizer=name, lr=[lrs[0]], **options)
    opt = build_optimizer(args, params)
    for lr, step_grads in zip(lrs, grads):
        opt.set_lr(lr)
        for p, g in zip(params, step_grads):
            p.grad = g.clone()
        opt.step()
    return opt


def fairseq_nag(params, grads, lrs, momentum, weight_decay, construction_lr):
    """fairseq's NAG, one formula per line, in float64."""
    ps = [p.detach().double().clone() for p in params]
    bufs = [torch.zeros_like(p) for p in ps]
    lr_old = construction_lr
    for lr, step_grads in zip(lrs, grads):
        c = lr / lr_old
        for i, g in enumerate(step_grads):
            g = g.double()
            ps[i] = ps[i] * (1 - lr * weight_decay)
            ps[i] = ps[i] + momentum * momentum * c * bufs[i] - (1 + momentum) * lr * g
            bufs[i] = momentum * c * bufs[i] - lr * g
        lr_old = lr
    return ps


@pytest.mark.parametrize("weight_decay", [0.0, 0.05])
def test_nag_matches_fairseq_formula_under_a_changing_lr(weight_decay: float) -> None:
    params = make_params()
    start = [p.detach().clone() for p in params]
    grads = gradient_stream(params, 6)
    lrs = [0.1, 0.1, 0.05, 0.2, 0.2, 0.01]
    run("nag", params, grads, lrs, momentum=0.9, weight_decay=weight_decay)
    expected = fairseq_nag(start, grads, lrs, 0.9, weight_decay, construction_lr=0.1)
    for p, e in zip(params, expected):
        torch.testing.assert_close(p.detach().double(), e, atol=1e-6, rtol=1e-5)


def test_nag_defaults_are_fairseqs() -> None:
    opt = build_optimizer(argparse.Namespace(optimizer="nag", lr=[0.1]), make_params())
    assert opt.param_groups[0]["momentum"] == 0.99
    assert opt.param_groups[0]["weight_decay"] == 0.0


def fairseq_adafactor(
    params,
    grads,
    lrs,
    *,
    eps=(1e-30, 1e-3),
    clip=1.0,
    decay=-0.8,
    beta1=None,
    wd=0.0,
    scale_parameter=False,
    relative_step=False,
    warmup_init=False,
):
    """Adafactor as fairseq computes each parameter's update (step size kept per parameter), in float64."""
    ps = [p.detach().double().clone() for p in params]
    state = [{} for _ in ps]
    for t, (lr, step_grads) in enumerate(zip(lrs, grads), start=1):
        for i, g in enumerate(step_grads):
            g, p, s = g.double(), ps[i], state[i]
            rms = lambda x: math.sqrt(float((x**2).mean()))  # noqa: E731
            size = min(1e-6 * t if warmup_init else 1e-2, 1 / math.sqrt(t)) if relative_step else lr
            if scale_parameter:
                size *= max(eps[1], rms(p))
            beta2 = 1 - t**decay
            sq = g**2 + eps[0]
            if g.dim() >= 2:
                r = s.get("r", torch.zeros(g.shape[:-1], dtype=torch.float64))
                c = s.get("c", torch.zeros(g.shape[:-2] + g.shape[-1:], dtype=torch.float64))
                s["r"] = beta2 * r + (1 - beta2) * sq.mean(-1)
                s["c"] = beta2 * c + (1 - beta2) * sq.mean(-2)
                # V ~ outer(R, C) / mean(R), over the last two dimensions
                v = s["r"].unsqueeze(-1) * s["c"].unsqueeze(-2) / s["r"].mean(-1, keepdim=True).unsqueeze(-1)
            else:
                s["v"] = beta2 * s.get("v", torch.zeros_like(g)) + (1 - beta2) * sq
                v = s["v"]
            u = g / v.sqrt()
            u = u / max(1.0, rms(u) / clip)
            u = u * size
            if beta1 is not None:
                s["m"] = beta1 * s.get("m", torch.zeros_like(g)) + (1 - beta1) * u
                u = s["m"]
            p = p * (1 - wd * size) - u
            ps[i] = p
    return ps


ADAFACTOR_CASES = {
    "external lr": {},
    "first moment and decay": {"beta1": 0.9, "weight_decay": 0.1},
    "scaled by parameter rms": {"scale_parameter": True, "clip_threshold": 0.5},
    "relative step": {"relative_step": True},
    "relative step with warmup": {"relative_step": True, "warmup_init": True, "decay_rate": -0.5},
}


@pytest.mark.parametrize("case", sorted(ADAFACTOR_CASES))
def test_adafactor_matches_fairseq_formula(case: str) -> None:
    options = ADAFACTOR_CASES[case]
    params = make_params()
    start = [p.detach().clone() for p in params]
    grads = gradient_stream(params, 5)
    lrs = [0.01, 0.02, 0.02, 0.005, 0.01]
    opt = run("adafactor", params, grads, lrs, **options)
    expected = fairseq_adafactor(
        start, grads, lrs,
        clip=options.get("clip_threshold", 1.0), decay=options.get("decay_rate", -0.8),
        beta1=options.get("beta1"), wd=options.get("weight_decay", 0.0),
        scale_parameter=options.get("scale_parameter", False),
        relative_step=options.get("relative_step", False), warmup_init=options.get("warmup_init", False),
    )  # fmt: skip
    for p, e in zip(params, expected):
        torch.testing.assert_close(p.detach().double(), e, atol=1e-6, rtol=1e-5)
    if options.get("relative_step"):
        # the relative step replaces the lr, and get_lr reports the step size in use
        t = 5
        expected_lr = min(1e-6 * t if options.get("warmup_init") else 1e-2, 1 / math.sqrt(t))
        assert opt.get_lr() == pytest.approx(expected_lr)


def test_adafactor_reads_fairseq_eps_string() -> None:
    args = argparse.Namespace(optimizer="adafactor", lr=[0.01], adafactor_eps="(1e-20, 1e-2)")
    opt = build_optimizer(args, make_params())
    assert opt.param_groups[0]["eps"] == (1e-20, 1e-2)


def test_adafactor_warmup_init_needs_relative_step() -> None:
    args = argparse.Namespace(optimizer="adafactor", lr=[0.01], warmup_init=True)
    with pytest.raises(ConfigError, match="--relative-step"):
        build_optimizer(args, make_params())
