"""``check_optimizer``: an optimizer updates every parameter downhill and resumes from its state."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch

from ..builders import build_optimizer
from ..optimizer import Optimizer
from ..options import OPTIMIZER
from .failures import Check
from .regression import Regression
from .round_trip import round_trip
from .tool_options import has_flag, resolve_options

#: the learning rate the check uses unless ``argv`` sets ``--lr``
CHECK_LR = "0.01"


def check_optimizer(name: str, argv: Sequence[str] = (), steps: int = 10, seed: int = 0) -> Optimizer:
    """Check optimizer ``name`` (options from its defaults and ``argv``) on a least-squares problem.

    It must wrap a ``torch.optim.Optimizer`` over every parameter, report and set its lr,
    lower the loss in ``steps`` updates, clip and scale gradients, and, rebuilt and loaded
    from its state dict (through ``torch.load(weights_only=True)``), make the same updates
    as the original. Returns the optimizer.
    """
    check = Check("check_optimizer", name)
    if not has_flag(argv, "--lr"):
        argv = ["--lr", CHECK_LR, *argv]
    args = resolve_options(check, [OPTIMIZER], ["--optimizer", name, *argv])
    problem = Regression(seed)
    params = problem.params()
    optimizer = _build(check, args, params)
    _check_lr(check, optimizer, float(args.lr[0]))
    _check_gradient_tools(check, optimizer, problem, params)

    before = float(problem.loss(params).detach())
    half = max(1, steps // 2)
    _train(check, optimizer, problem, params, half)
    state = round_trip(check, optimizer.state_dict(), "the optimizer's state dict")
    resumed_params = [torch.nn.Parameter(p.detach().clone()) for p in params]
    resumed = _build(check, args, resumed_params)
    with check.step("load_state_dict of a fresh optimizer"):
        resumed.load_state_dict(state)
    _train(check, optimizer, problem, params, steps - half)
    _train(check, resumed, problem, resumed_params, steps - half)
    after = float(problem.loss(params).detach())
    check.expect(
        math.isfinite(after) and after < before,
        f"{steps} updates at lr {args.lr[0]} do not lower a least-squares loss ({before:.4g} -> {after:.4g})",
    )
    for p, q in zip(params, resumed_params):
        check.expect(
            torch.allclose(p, q, rtol=1e-6, atol=1e-7),
            "an optimizer rebuilt and loaded from the state dict makes other updates than the original: "
            "state_dict() misses some of its state",
        )
    return optimizer


def _build(check: Check, args: Any, params: list[torch.nn.Parameter]) -> Optimizer:
    with check.step("building the optimizer"):
        optimizer = build_optimizer(args, params)
    check.expect(
        isinstance(optimizer, Optimizer),
        f"build_optimizer returned a {type(optimizer).__name__}, not a seqlab.core.Optimizer",
    )
    with check.step("reading optimizer.optimizer"):
        inner = optimizer.optimizer
    check.expect(
        isinstance(inner, torch.optim.Optimizer), "optimizer.optimizer is not a torch.optim.Optimizer"
    )
    covered = {id(p) for p in optimizer.params}
    check.expect(
        all(id(p) in covered for p in params), "some parameters are in none of the optimizer's param_groups"
    )
    return optimizer


def _check_lr(check: Check, optimizer: Optimizer, lr: float) -> None:
    check.expect(
        math.isclose(optimizer.get_lr(), lr, rel_tol=1e-9),
        f"get_lr() gives {optimizer.get_lr()} after building with --lr {lr}",
    )
    optimizer.set_lr(lr / 2)
    check.expect(
        all(math.isclose(g["lr"], lr / 2, rel_tol=1e-9) for g in optimizer.param_groups)
        and math.isclose(optimizer.get_lr(), lr / 2, rel_tol=1e-9),
        "set_lr does not set the lr of every param group (the lr schedules drive it through set_lr)",
    )
    optimizer.set_lr(lr)


def _check_gradient_tools(
    check: Check, optimizer: Optimizer, problem: Regression, params: list[torch.nn.Parameter]
) -> None:
    optimizer.zero_grad()
    with check.step("optimizer.backward(loss)"):
        optimizer.backward(problem.loss(params))
    check.expect(all(p.grad is not None for p in params), "optimizer.backward(loss) left gradients unset")
    grads = [p.grad.clone() for p in params]
    optimizer.multiply_grads(0.5)
    check.expect(
        all(torch.allclose(p.grad, g * 0.5) for p, g in zip(params, grads)),
        "multiply_grads(0.5) does not halve the gradients (the Trainer normalises them with it)",
    )
    true_norm = float(torch.linalg.vector_norm(torch.cat([p.grad.flatten() for p in params])))
    norm = float(optimizer.clip_grad_norm(true_norm / 4))
    check.expect(
        math.isclose(norm, true_norm, rel_tol=1e-4),
        f"clip_grad_norm returns {norm}, not the gradient norm before clipping ({true_norm})",
    )
    clipped = float(torch.linalg.vector_norm(torch.cat([p.grad.flatten() for p in params])))
    check.expect(
        math.isclose(clipped, true_norm / 4, rel_tol=1e-3),
        f"after clip_grad_norm({true_norm / 4:.4g}) the gradient norm is {clipped:.4g}",
    )
    optimizer.zero_grad()
    check.expect(
        all(p.grad is None or not bool(p.grad.any()) for p in params), "zero_grad leaves gradients behind"
    )


def _train(
    check: Check, optimizer: Optimizer, problem: Regression, params: list[torch.nn.Parameter], steps: int
) -> None:
    for _ in range(steps):
        optimizer.zero_grad()
        optimizer.backward(problem.loss(params))
        with check.step("optimizer.step()"):
            optimizer.step()
