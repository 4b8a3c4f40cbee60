"""``seq-validate DATA --path CKPT``: a checkpoint's validation metrics on binarized splits (fairseq-validate).

The checkpoint's own criterion and task options (``--eval-bleu`` included) evaluate each
split of ``--valid-subset`` exactly as ``seq-train``'s validation does, and one line per
split is printed, as ``seq-train`` logs it::

    valid on 'valid' subset | loss 3.512 | nll_loss 1.834 | ppl 3.57

Useful after ``seq-average-checkpoints``, or to compare checkpoints on another split.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import Any

import torch

from seqlab.core import metrics
from seqlab.core.entry import run_tool
from seqlab.core.progress import Progress, default_format, format_stat
from seqlab.core.utils import move_to_device, resolve_max_positions

from .gc_freeze import loaded_objects_frozen
from .inference_options import add_batch_args, add_checkpoint_args, add_logging_args
from .inference_setup import Inference, load_inference, setup_tool_logging, split_batches

PROG = "seq-validate"
DESCRIPTION = (
    "Validation loss (and the task's other validation metrics) of a checkpoint on binarized "
    "splits, as seq-train validates: seq-validate DATA --path CKPT [--valid-subset valid,test]."
)
logger = logging.getLogger("seqlab.validate")


def add_args(parser: argparse.ArgumentParser) -> None:
    """seq-validate's own flags."""
    add_checkpoint_args(parser)
    add_batch_args(parser, subset=False)
    g = parser.add_argument_group("validation")
    g.add_argument(
        "--valid-subset", default="valid", metavar="SPLITS", help="comma-separated splits to validate on"
    )
    add_logging_args(parser)


def validate(inf: Inference) -> list[tuple[str, dict[str, Any]]]:
    """Each split's statistics, in ``--valid-subset`` order."""
    args, task = inf.args, inf.task
    model = inf.models[0]
    if len(inf.models) > 1:
        logger.warning(
            "seq-validate validates one checkpoint; using the first of --path's %d", len(inf.models)
        )
    criterion = task.build_criterion(args)
    criterion = criterion.to(inf.device) if isinstance(criterion, torch.nn.Module) else criterion
    results = []
    task.begin_valid_epoch(1, model)
    for subset in [s for s in args.valid_subset.split(",") if s]:
        task.load_dataset(subset)
        max_positions = resolve_max_positions(task.max_positions(), model.max_positions())
        itr = split_batches(task, task.dataset(subset), args, max_positions)
        progress = Progress(itr, default_format(args.log_format), prefix=f"valid on '{subset}' subset")
        with metrics.aggregate(new_root=True) as agg:
            for sample in progress:
                if not sample or "net_input" not in sample:
                    continue
                if inf.device.type != "cpu":
                    sample = move_to_device(sample, inf.device)
                _, _, log = task.valid_step(sample, model, criterion)
                task.reduce_metrics([log], criterion)
            results.append((subset, dict(agg.get_smoothed_values())))
    return results


def _main(argv: list[str]) -> int:
    setup_tool_logging()
    inf = load_inference(PROG, DESCRIPTION, add_args, argv, with_task_options=True, validating=True)
    with loaded_objects_frozen():
        for subset, stats in validate(inf):
            line = " | ".join(f"{k} {format_stat(v)}" for k, v in stats.items())
            print(f"valid on '{subset}' subset | {line}", flush=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``seq-validate``."""
    return run_tool(PROG, _main, argv)


if __name__ == "__main__":
    sys.exit(main())
