"""Every optimizer and lr schedule seqlab-optim declares passes the conformance kit.

The names come from the distribution's entry points, so a new plugin is covered as soon as
it is declared (at its defaults, plus any option sets listed here).
"""

from __future__ import annotations

import importlib.metadata as md

import pytest

from seqlab.core.testing import check_lr_scheduler, check_optimizer, check_registration

ENTRY_POINTS = md.distribution("seqlab-optim").entry_points
OPTIMIZERS = sorted(ep.name for ep in ENTRY_POINTS if ep.group == "seqlab.optimizers")
SCHEDULERS = sorted(ep.name for ep in ENTRY_POINTS if ep.group == "seqlab.lr_schedulers")

#: option sets checked besides the defaults
OPTIMIZER_VARIANTS = {
    "adam": [["--weight-decay", "0.01", "--adam-betas", "(0.9, 0.98)"]],
    "adafactor": [["--relative-step", "--scale-parameter", "--beta1", "0.9"]],
    "sgd": [["--momentum", "0.9", "--weight-decay", "0.01"]],
}
SCHEDULER_VARIANTS = {
    "fixed": [["--force-anneal", "3", "--warmup-updates", "100"]],
    "cosine": [
        ["--warmup-updates", "500", "--lr-period-updates", "2000", "--t-mult", "2", "--lr-shrink", "0.5"]
    ],
    "inverse_sqrt": [["--warmup-updates", "1000", "--warmup-init-lr", "1e-4"]],
    "polynomial_decay": [["--warmup-updates", "300", "--power", "2", "--end-learning-rate", "0.01"]],
    "reduce_lr_on_plateau": [["--lr-patience", "1", "--warmup-updates", "200"]],
    "tri_stage": [["--warmup-steps", "500", "--hold-steps", "1000", "--decay-steps", "3000"]],
}
#: options a schedule cannot do without (tri_stage has no stage lengths by default)
SCHEDULER_REQUIRED = {"tri_stage": ["--phase-ratio", "(0.1, 0.4, 0.5)"]}


def _cases(names: list[str], variants: dict[str, list[list[str]]], required: dict[str, list[str]]):
    return [(n, required.get(n, []) + argv) for n in names for argv in [[], *variants.get(n, [])]]


OPTIMIZER_CASES = _cases(OPTIMIZERS, OPTIMIZER_VARIANTS, {})
SCHEDULER_CASES = _cases(SCHEDULERS, SCHEDULER_VARIANTS, SCHEDULER_REQUIRED)


def _ids(cases):
    return [f"{n}{' '.join(a)}" for n, a in cases]


def test_the_distribution_declares_fairseqs_optimizers_and_schedules():
    assert {"adam", "adamw", "sgd", "nag", "adagrad", "adafactor"} <= set(OPTIMIZERS)
    assert {
        "fixed",
        "inverse_sqrt",
        "cosine",
        "polynomial_decay",
        "reduce_lr_on_plateau",
        "tri_stage",
    } <= set(SCHEDULERS)


@pytest.mark.parametrize(
    "kind, name", [("optimizer", n) for n in OPTIMIZERS] + [("lr_scheduler", n) for n in SCHEDULERS]
)
def test_registers_idempotently_from_its_entry_point(kind, name):
    check_registration(kind, name, installed=True)


@pytest.mark.parametrize("name, argv", OPTIMIZER_CASES, ids=_ids(OPTIMIZER_CASES))
def test_optimizer_keeps_the_contract(name, argv):
    check_optimizer(name, argv)


@pytest.mark.parametrize("name, argv", SCHEDULER_CASES, ids=_ids(SCHEDULER_CASES))
def test_lr_schedule_keeps_the_contract(name, argv):
    check_lr_scheduler(name, argv)
