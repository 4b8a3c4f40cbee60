"""The optimizers and schedules are found through entry points and take fairseq's flags."""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata as md

import pytest
import torch

from seqlab.core import build_lr_scheduler, build_optimizer, get_plugin, plugin_names
from seqlab.core.dataclass_options import field_options
from seqlab.core.options import LR_SCHEDULER, OPTIMIZER, ToolSpec, parse
from seqlab.core.utils import eval_str_list

OPTIMIZERS = {"adam", "adamw", "sgd", "nag", "adagrad", "adafactor"}
SCHEDULES = {"fixed", "inverse_sqrt", "cosine", "polynomial_decay", "reduce_lr_on_plateau", "tri_stage"}


def entry_points(group: str) -> dict[str, str]:
    """This distribution's entry points of one group: name -> module."""
    dist = md.distribution("seqlab-optim")
    return {ep.name: ep.value for ep in dist.entry_points if ep.group == group}


@pytest.mark.parametrize(
    ("kind", "group", "names"),
    [("optimizer", "seqlab.optimizers", OPTIMIZERS), ("lr_scheduler", "seqlab.lr_schedulers", SCHEDULES)],
)
def test_every_plugin_is_an_entry_point_of_the_module_that_registers_it(kind, group, names) -> None:
    eps = entry_points(group)
    assert set(eps) == names
    assert names <= set(plugin_names(kind))
    for name, module in eps.items():
        importlib.import_module(module)
        plugin = get_plugin(kind, name)
        assert plugin.obj.__module__ == module
        assert plugin.provenance()["distribution"] == "seqlab-optim"


@pytest.mark.parametrize("name", sorted(OPTIMIZERS | SCHEDULES))
def test_every_option_is_documented(name: str) -> None:
    kind = "optimizer" if name in OPTIMIZERS else "lr_scheduler"
    dc = get_plugin(kind, name).dataclass
    assert dc is not None
    for flags, kwargs in field_options(dc):
        assert kwargs["help"].strip(), f"{name} {flags[0]} has no help"


def _trainer_flags(parser: argparse.ArgumentParser) -> None:
    # what seq-train owns: --lr as a list, like fairseq, and --max-update
    parser.add_argument("--lr", type=lambda s: eval_str_list(s, float), default=[0.25])
    parser.add_argument("--max-update", type=int, default=0)


SPEC = ToolSpec("seq-train-test", "test", choices=(OPTIMIZER, LR_SCHEDULER), add_args=_trainer_flags)


def test_fairseq_command_line_builds_adam_with_inverse_sqrt() -> None:
    argv = [
        "--optimizer", "adam", "--adam-betas", "(0.9, 0.98)", "--adam-eps", "1e-9", "--wd", "0.0001",
        "--lr", "0.0005", "--lr-scheduler", "inverse_sqrt", "--warmup-updates", "4000",
        "--warmup-init-lr", "1e-07",
    ]  # fmt: skip
    args = parse(SPEC, argv).args
    opt = build_optimizer(args, [torch.nn.Parameter(torch.zeros(3))])
    group = opt.param_groups[0]
    assert (group["betas"], group["eps"], group["weight_decay"]) == ((0.9, 0.98), 1e-9, 0.0001)
    sched = build_lr_scheduler(args, opt)
    assert opt.get_lr() == 1e-7
    assert sched.step_update(4000) == pytest.approx(5e-4)


def test_defaults_come_from_the_chosen_plugins() -> None:
    args = parse(
        SPEC, ["--optimizer", "nag", "--lr-scheduler", "tri_stage", "--phase-ratio", "0.1,0.4,0.5"]
    ).args
    assert args.momentum == 0.99
    assert args.phase_ratio == [0.1, 0.4, 0.5]
    assert args.init_lr_scale == 0.01
    args = parse(SPEC, ["--optimizer", "adafactor", "--lr-scheduler", "cosine", "--beta1", "0.9"]).args
    assert (args.beta1, args.clip_threshold, args.relative_step, args.min_lr) == (0.9, 1.0, False, 0.0)
