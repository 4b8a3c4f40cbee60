"""``check_model``: an architecture builds from its defaults, trains a step, saves, loads and pickles."""

from __future__ import annotations

import copy
import pickle
from collections.abc import Sequence
from typing import Any

import torch

from ..builders import build_model
from ..decoder import logits_of
from ..model import BaseModel, LanguageModel
from ..options import ARCH
from ..registry import resolve_architecture
from .batches import language_model_batch, translation_batch
from .dummy_task import DummyTask
from .failures import Check
from .round_trip import round_trip
from .spawn_child import forward_in_spawned_process
from .tool_options import resolve_options


def check_model(
    arch: str,
    task: Any = None,
    argv: Sequence[str] = (),
    sample: dict[str, Any] | None = None,
    spawn: bool = True,
    seed: int = 0,
) -> BaseModel:
    """Check the model of ``--arch arch`` end to end; return it (in eval mode).

    Options resolve as under seq-train: the model's defaults, then the arch preset, then
    ``argv`` (e.g. smaller sizes for a big preset). Without ``task`` a :class:`DummyTask`
    provides dictionaries; without ``sample`` a dummy mini-batch is made for translation
    models and language models. The model must run forward and backward with a gradient for
    every trainable parameter, give the same eval outputs after a state-dict round trip
    through ``torch.load(weights_only=True)``, and (unless ``spawn=False``) after being
    pickled into a process started with the *spawn* method.
    """
    check = Check("check_model", arch)
    with check.step("finding the architecture"):
        _, model_plugin = resolve_architecture(arch)
    is_lm = isinstance(model_plugin.obj, type) and issubclass(model_plugin.obj, LanguageModel)
    if task is None:
        task = DummyTask.for_language_model() if is_lm else DummyTask()
    args = resolve_options(check, [ARCH], ["--arch", arch, *argv])
    if sample is None:
        if is_lm:
            sample = language_model_batch(task.target_dictionary, seed=seed)
        else:
            sample = translation_batch(task.source_dictionary, task.target_dictionary, seed=seed)

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = _build(check, args, task)
        _check_train_step(check, model, sample, task)
        reference = _eval_logits(check, model, sample)
        _check_state_dict_round_trip(check, model, args, task, sample, reference, seed)
        if spawn:
            _check_spawn_pickle(check, model, sample, reference)
    return model


def _build(check: Check, args: Any, task: Any) -> BaseModel:
    with check.step("building the model from its default options"):
        model = build_model(copy.deepcopy(args), task)
    check.expect(
        isinstance(model, BaseModel),
        f"build_model returned a {type(model).__name__}, not a seqlab.core.BaseModel",
    )
    return model


def _check_train_step(check: Check, model: BaseModel, sample: dict[str, Any], task: Any) -> None:
    model.train()
    with check.step("the forward pass on a dummy batch"):
        net_output = model(**sample["net_input"])
        lprobs = model.get_normalized_probs(net_output, log_probs=True)
        target = model.get_targets(sample, net_output)
    expected = (*target.shape, len(task.target_dictionary))
    check.expect(
        tuple(lprobs.shape) == expected,
        f"get_normalized_probs gives shape {tuple(lprobs.shape)}; expected {expected} "
        "(the target's shape by the target dictionary's size)",
    )
    check.expect(bool(torch.isfinite(lprobs).all()), "the forward pass gives non-finite log-probabilities")
    total = lprobs.float().exp().sum(-1)
    check.expect(
        torch.allclose(total, torch.ones_like(total), atol=1e-4),
        "get_normalized_probs(log_probs=True) does not give log-probabilities that sum to 1",
    )
    pad = task.target_dictionary.pad()
    loss = torch.nn.functional.nll_loss(
        lprobs.reshape(-1, lprobs.size(-1)).float(), target.reshape(-1), ignore_index=pad, reduction="sum"
    )
    with check.step("the backward pass"):
        loss.backward()
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    check.expect(trainable, "the model has no trainable parameters")
    no_grad = [n for n, p in trainable if p.grad is None]
    check.expect(
        not no_grad,
        lambda: (
            f"parameters that get no gradient: {', '.join(no_grad[:5])}"
            + (" ..." if len(no_grad) > 5 else "")
            + "; an unused parameter breaks DistributedDataParallel (remove it or set requires_grad=False)"
        ),
    )
    bad = [n for n, p in trainable if p.grad is not None and not bool(torch.isfinite(p.grad).all())]
    check.expect(not bad, lambda: f"non-finite gradients in {', '.join(bad[:5])}")
    check.expect(
        any(bool(p.grad.abs().sum() > 0) for _, p in trainable if p.grad is not None),
        "every gradient is zero: the loss does not depend on the parameters",
    )
    model.zero_grad(set_to_none=True)


def _eval_logits(check: Check, model: BaseModel, sample: dict[str, Any]) -> torch.Tensor:
    model.eval()
    with torch.no_grad(), check.step("the forward pass in eval mode"):
        first = logits_of(model(**sample["net_input"]))
        second = logits_of(model(**sample["net_input"]))
    check.expect(
        torch.equal(first, second),
        "two forward passes in eval mode differ: something stays random after model.eval() "
        "(dropout through torch.nn.functional without training=self.training?)",
    )
    return first


def _check_state_dict_round_trip(
    check: Check,
    model: BaseModel,
    args: Any,
    task: Any,
    sample: dict[str, Any],
    reference: torch.Tensor,
    seed: int,
) -> None:
    state = round_trip(check, model.state_dict(), "the model's state dict")
    torch.manual_seed(seed + 1)  # the copy starts from other weights, so loading must set them all
    other = _build(check, args, task)
    with check.step("load_state_dict(strict=True) into a model built from the same options"):
        other.load_state_dict(state, strict=True)
    other.eval()
    with torch.no_grad():
        got = logits_of(other(**sample["net_input"]))
    check.expect(
        torch.equal(got, reference),
        "a model loaded from the state dict gives other outputs than the original: some of its "
        "state is not in state_dict() (a tensor attribute that should be a buffer or parameter?)",
    )


def _check_spawn_pickle(
    check: Check, model: BaseModel, sample: dict[str, Any], reference: torch.Tensor
) -> None:
    with check.step("pickling the model (its classes must be importable by module and name)"):
        payload = pickle.dumps((model, sample["net_input"]))
    with check.step("unpickling the model in a process started with the spawn method"):
        got = forward_in_spawned_process(payload)
    # another process may sum in another order (thread count), hence a tolerance
    check.expect(
        got.shape == reference.shape and torch.allclose(got, reference, rtol=1e-5, atol=1e-6),
        "the model unpickled in a spawned process gives other outputs than the original",
    )
