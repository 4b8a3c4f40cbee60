"""The criterions are found through entry points and take fairseq's flags."""

from __future__ import annotations

import importlib
import importlib.metadata as md

import pytest

from seqlab.core import build_criterion, get_plugin, plugin_names
from seqlab.core.dataclass_options import field_options
from seqlab.core.options import CRITERION, ToolSpec, parse

NAMES = {"adaptive_loss", "cross_entropy", "label_smoothed_cross_entropy"}


class Dictionary:
    def pad(self) -> int:
        return 7


class Task:
    target_dictionary = Dictionary()


def test_every_criterion_is_an_entry_point_of_the_module_that_registers_it() -> None:
    dist = md.distribution("seqlab-criterions")
    eps = {ep.name: ep.value for ep in dist.entry_points if ep.group == "seqlab.criterions"}
    assert set(eps) == NAMES
    assert NAMES <= set(plugin_names("criterion"))
    for name, module in eps.items():
        importlib.import_module(module)
        plugin = get_plugin("criterion", name)
        assert plugin.obj.__module__ == module
        assert plugin.provenance()["distribution"] == "seqlab-criterions"


@pytest.mark.parametrize("name", sorted(NAMES))
def test_every_option_is_documented(name: str) -> None:
    dc = get_plugin("criterion", name).dataclass
    assert dc is not None
    for flags, kwargs in field_options(dc):
        assert kwargs["help"].strip(), f"{name} {flags[0]} has no help"


SPEC = ToolSpec("seq-train-test", "test", choices=(CRITERION,))


def test_fairseq_flags_build_label_smoothed_cross_entropy() -> None:
    argv = ["--criterion", "label_smoothed_cross_entropy", "--label-smoothing", "0.1", "--report-accuracy",
            "--ignore-prefix-size", "1", "--sentence-avg"]  # fmt: skip
    crit = build_criterion(parse(SPEC, argv).args, Task())
    assert (crit.eps, crit.report_accuracy, crit.ignore_prefix_size, crit.sentence_avg) == (
        0.1,
        True,
        1,
        True,
    )
    assert crit.padding_idx == 7


def test_cross_entropy_is_the_default_and_takes_sentence_avg() -> None:
    crit = build_criterion(parse(SPEC, ["--sentence-avg"]).args, Task())
    assert type(crit).__name__ == "CrossEntropyCriterion"
    assert crit.sentence_avg is True
    assert build_criterion(parse(SPEC, []).args, Task()).sentence_avg is False
