"""The command line of ``seq-train`` (the CLI package installs it as a console script)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from .dataclass_options import add_dataclass_args
from .entry import run_tool
from .options import ARCH, CRITERION, LR_SCHEDULER, OPTIMIZER, TASK, ToolSpec, parse
from .trainer_options import TRAINER_OPTION_GROUPS

PROG = "seq-train"


def add_trainer_args(parser: argparse.ArgumentParser) -> None:
    """Add the Trainer's option groups (common, dataset, optimization, checkpoint, distributed)."""
    for title, options in TRAINER_OPTION_GROUPS:
        add_dataclass_args(parser.add_argument_group(title), options)


SPEC = ToolSpec(
    PROG,
    "Train a model: seq-train DATA --task T --arch A --criterion C --optimizer O --lr-scheduler S. "
    "Resumes from checkpoint_last.pt in --save-dir when it exists. Pass --arch NAME --help to see that "
    "model's options.",
    (TASK, ARCH, CRITERION, OPTIMIZER, LR_SCHEDULER),
    add_args=add_trainer_args,
)


def _main(argv: list[str]) -> int:
    config = parse(SPEC, argv)
    world = int(config.args.distributed_world_size)
    if world > 1 and "RANK" not in os.environ:
        from .distributed import launch_local_workers

        return launch_local_workers(world, "seqlab.core.train_cli", argv)
    from .train_loop import run_training

    return run_training(config)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``seq-train``."""
    return run_tool(PROG, _main, argv)


if __name__ == "__main__":
    sys.exit(main())
