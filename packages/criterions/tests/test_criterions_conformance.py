"""Every criterion seqlab-criterions declares passes the conformance kit, with its main options.

The names come from the distribution's entry points, so a new criterion is covered as soon
as it is declared (at its defaults, plus any option sets listed here).
"""

from __future__ import annotations

import importlib.metadata as md

import pytest

from seqlab.core.testing import check_criterion, check_registration
from seqlab.core.testing.dummy_task import DummyTask

CRITERIONS = sorted(
    ep.name for ep in md.distribution("seqlab-criterions").entry_points if ep.group == "seqlab.criterions"
)

#: option sets checked besides the defaults
VARIANTS = {
    "adaptive_loss": [["--sentence-avg"]],
    "cross_entropy": [["--sentence-avg"]],
    "label_smoothed_cross_entropy": [
        ["--label-smoothing", "0.1", "--report-accuracy"],
        ["--label-smoothing", "0.2", "--sentence-avg", "--ignore-prefix-size", "1"],
    ],
}
CASES = [(name, argv) for name in CRITERIONS for argv in [[], *VARIANTS.get(name, [])]]


def test_the_distribution_declares_the_fairseq_losses():
    assert {"adaptive_loss", "cross_entropy", "label_smoothed_cross_entropy"} <= set(CRITERIONS)


@pytest.mark.parametrize("name", CRITERIONS)
def test_registers_idempotently_from_its_entry_point(name):
    check_registration("criterion", name, installed=True)


@pytest.mark.parametrize("name, argv", CASES, ids=[f"{n}{''.join(a)}" for n, a in CASES])
def test_keeps_the_criterion_contract(name, argv, adaptive_toy_model):
    task = DummyTask()
    # adaptive_loss scores through the decoder's adaptive softmax, which the plain dummy model lacks
    model = adaptive_toy_model(task) if name == "adaptive_loss" else None
    check_criterion(name, argv, task=task, model=model)
