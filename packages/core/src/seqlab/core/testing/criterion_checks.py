"""``check_criterion``: the loss contract the Trainer relies on."""

from __future__ import annotations

import math
import pickle
from collections.abc import Sequence
from typing import Any

import torch

from .. import metrics
from ..builders import build_criterion
from ..criterion import Criterion
from ..decoder import logits_of
from ..options import CRITERION
from .batches import select_rows, translation_batch, with_extra_padding
from .dummy_model import DummyTranslationModel
from .dummy_task import DummyTask
from .failures import Check
from .tool_options import resolve_options

#: keys the Trainer and the progress log read from every logging output
REQUIRED_LOGGING_KEYS = ("loss", "ntokens", "nsentences", "sample_size")


def check_criterion(
    name: str,
    argv: Sequence[str] = (),
    task: Any = None,
    model: Any = None,
    sample: dict[str, Any] | None = None,
    seed: int = 0,
) -> Criterion:
    """Check criterion ``name`` (options from its defaults and ``argv``); return it.

    ``forward(model, sample)`` must return ``(loss, sample_size, logging_output)`` with a
    summed (not averaged) loss, so that two halves of a batch add up to the whole; padding
    must count for nothing (more of it changes nothing, and padded positions get no
    gradient); ``reduce_metrics`` must give the same values whether the logging outputs
    come in one call, one call each, or (when ``logging_outputs_can_be_summed``) summed.
    Without ``model``/``sample`` a :class:`DummyTranslationModel` and a dummy translation
    batch are used, so no model package is needed.
    """
    check = Check("check_criterion", name)
    task = task if task is not None else DummyTask()
    args = resolve_options(check, [CRITERION], ["--criterion", name, *argv])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if model is None:
            model = DummyTranslationModel(task.source_dictionary, task.target_dictionary)
        if sample is None:
            sample = translation_batch(task.source_dictionary, task.target_dictionary, seed=seed)
        with check.step("building the criterion"):
            criterion = build_criterion(args, task)
        check.expect(
            isinstance(criterion, Criterion),
            f"build_criterion returned a {type(criterion).__name__}, not a seqlab.core.Criterion",
        )
        model.eval()  # the checks compare losses, so dropout must not differ between calls
        pad = task.target_dictionary.pad()
        whole = _check_forward(check, criterion, model, sample, pad)
        _check_padding(check, criterion, model, sample, pad, whole)
        halves = _check_additivity(check, criterion, model, sample, pad, whole)
        _check_reduce_metrics(check, criterion, halves)
    return criterion


def _call(
    check: Check, criterion: Criterion, model: Any, sample: dict[str, Any], what: str
) -> tuple[torch.Tensor, float, dict[str, Any]]:
    with check.step(f"forward on {what}"):
        result = criterion(model, sample)
    check.expect(
        isinstance(result, tuple) and len(result) == 3,
        f"forward on {what} returned {type(result).__name__}; expected (loss, sample_size, logging_output)",
    )
    loss, sample_size, logging_output = result
    check.expect(
        torch.is_tensor(loss) and loss.numel() == 1,
        f"the loss on {what} is not a one-element tensor: {loss!r}",
    )
    check.expect(bool(torch.isfinite(loss).all()), f"the loss on {what} is not finite: {loss}")
    with check.step(f"reading sample_size {sample_size!r} as a number"):
        size = float(sample_size)
    check.expect(size > 0, f"sample_size on {what} is {size}; it must be positive for a non-empty batch")
    check.expect(isinstance(logging_output, dict), f"the logging output on {what} is not a dict")
    missing = [k for k in REQUIRED_LOGGING_KEYS if k not in logging_output]
    check.expect(not missing, f"the logging output lacks {', '.join(missing)}")
    for key, value in logging_output.items():
        with check.step(f"reading logging_output[{key!r}] = {value!r} as a number"):
            float(value)
    return loss, size, logging_output


def _check_forward(
    check: Check, criterion: Criterion, model: Any, sample: dict[str, Any], pad: int
) -> tuple[torch.Tensor, float, dict[str, Any]]:
    captured: list[torch.Tensor] = []

    def keep_logits(module: Any, inputs: Any, output: Any) -> None:
        if not (
            torch.is_tensor(output) or (isinstance(output, tuple) and output and torch.is_tensor(output[0]))
        ):
            return  # an output without logits first: the gradient check does not apply
        logits = logits_of(output)
        if logits.requires_grad:
            logits.retain_grad()
            captured.append(logits)

    hook = model.register_forward_hook(keep_logits)
    try:
        model.zero_grad(set_to_none=True)
        loss, size, log = _call(check, criterion, model, sample, "a batch")
    finally:
        hook.remove()
    check.expect(loss.requires_grad, "the loss does not require a gradient: it is detached from the model")
    with check.step("backward through the loss"):
        loss.sum().backward()
    target = sample["target"]
    for logits in captured:
        if logits.grad is None or logits.shape[: target.dim()] != target.shape:
            continue
        leaked = logits.grad[target.eq(pad)].abs().max().item() if bool(target.eq(pad).any()) else 0.0
        check.expect(
            leaked == 0.0,
            f"the outputs at padded target positions get a gradient (max |grad| {leaked:.3g}); "
            "mask them out with the target dictionary's pad index (ignore_index=self.padding_idx)",
        )
    with check.step("pickling the logging output (workers exchange it)"):
        pickle.dumps(log)
    return loss.detach(), size, log


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-5, abs_tol=1e-5) or (math.isnan(a) and math.isnan(b))


def _check_padding(
    check: Check,
    criterion: Criterion,
    model: Any,
    sample: dict[str, Any],
    pad: int,
    whole: tuple[torch.Tensor, float, dict[str, Any]],
) -> None:
    with torch.no_grad():
        loss, size, log = _call(
            check, criterion, model, with_extra_padding(sample, 3, pad), "the batch with more padding"
        )
    check.expect(
        _close(float(loss.sum()), float(whole[0].sum())) and _close(size, whole[1]),
        f"more padding changes the loss or sample_size ({float(whole[0].sum()):.6g}, {whole[1]} -> "
        f"{float(loss.sum()):.6g}, {size}); padded positions must count for nothing",
    )
    changed = [k for k in whole[2] if k in log and not _close(float(log[k]), float(whole[2][k]))]
    check.expect(not changed, f"more padding changes the logged {', '.join(changed)}")


def _check_additivity(
    check: Check,
    criterion: Criterion,
    model: Any,
    sample: dict[str, Any],
    pad: int,
    whole: tuple[torch.Tensor, float, dict[str, Any]],
) -> list[dict[str, Any]]:
    bsz = sample["target"].size(0)
    check.expect(bsz >= 2, f"the sample needs 2 or more sentences to split, got {bsz}")
    cut = max(1, bsz // 3)  # uneven halves, so that averaging per call would show
    parts = [torch.arange(cut), torch.arange(cut, bsz)]
    results = []
    with torch.no_grad():
        for i, rows in enumerate(parts):
            results.append(_call(check, criterion, model, select_rows(sample, rows, pad), f"part {i + 1}"))
    total_loss = sum(float(r[0].sum()) for r in results)
    total_size = sum(r[1] for r in results)
    check.expect(
        _close(total_loss, float(whole[0].sum())),
        f"the losses of two parts of a batch add up to {total_loss:.6g}, not the whole batch's "
        f"{float(whole[0].sum()):.6g}; return the summed loss (the Trainer divides by sample_size)",
    )
    check.expect(
        _close(total_size, whole[1]),
        f"the sample_sizes of two parts of a batch add up to {total_size}, not the whole batch's {whole[1]}",
    )
    logs = [r[2] for r in results]
    if criterion.logging_outputs_can_be_summed():
        for key, value in whole[2].items():
            summed = sum(float(log.get(key, 0.0)) for log in logs)
            check.expect(
                _close(summed, float(value)),
                f"logging_outputs_can_be_summed() is True, but logging_output[{key!r}] of two parts of a "
                f"batch adds up to {summed:.6g}, not the whole batch's {float(value):.6g}",
            )
    return logs


def _meter_values(agg: metrics.MetersDict) -> dict[str, float]:
    values: dict[str, float] = {}
    for key, meter in agg.items():
        if isinstance(meter, metrics.TimeMeter):
            continue  # a rate per second depends on the clock
        if isinstance(meter, metrics.DerivedMeter):
            values[key] = float(meter.fn(agg))
        elif isinstance(meter, metrics.AverageMeter):
            values[key] = meter.avg
        else:
            values[key] = float(meter.sum)
    return values


def _check_reduce_metrics(check: Check, criterion: Criterion, logs: list[dict[str, Any]]) -> None:
    reduce = type(criterion).reduce_metrics
    ways: dict[str, list[list[dict[str, Any]]]] = {
        "in one call": [logs],
        "one call per output": [[log] for log in logs],
    }
    if criterion.logging_outputs_can_be_summed():
        summed: dict[str, float] = {}
        for log in logs:
            for key, value in log.items():
                summed[key] = summed.get(key, 0.0) + float(value)
        ways["summed first"] = [[summed]]
    results: dict[str, dict[str, float]] = {}
    for way, calls in ways.items():
        with metrics.aggregate(new_root=True) as agg, check.step(f"reduce_metrics {way}"):
            for outputs in calls:
                reduce(outputs)
            results[way] = _meter_values(agg)
    (first_way, first), *others = results.items()
    check.expect(first, "reduce_metrics logs nothing; log the loss with seqlab.core.metrics.log_scalar")
    for way, values in others:
        check.expect(
            values.keys() == first.keys(),
            f"reduce_metrics logs {sorted(values)} {way} but {sorted(first)} {first_way}",
        )
        differ = [k for k in first if not _close(values[k], first[k])]
        if differ:
            shown = ", ".join(f"{k} {values[k]:.6g} vs {first[k]:.6g}" for k in differ)
            check.fail(
                f"reduce_metrics gives other values {way} than {first_way}: {shown}; weight averages by "
                "their counts (log_scalar(key, value, weight)) or log sums"
            )
