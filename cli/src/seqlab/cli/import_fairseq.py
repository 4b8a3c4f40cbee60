"""``seq-import-fairseq``: turn a fairseq checkpoint into a self-contained seqlab checkpoint.

The fairseq run's options become the seqlab model's, task's and criterion's (the flag names
are the same), the dictionaries come from the data directory fairseq trained on, and the
weights are renamed by the model's ``from_fairseq_state_dict`` (a model without one takes
fairseq's names as they are, as a plugin ported from fairseq does). The result loads in every
seqlab tool and in ``seq-train --finetune-from-model``.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

import torch

from seqlab.core.checkpoint_io import FORMAT_VERSION, atomic_save
from seqlab.core.entry import run_tool
from seqlab.core.errors import ConfigError, SeqlabError
from seqlab.core.options import ResolvedConfig, ToolSpec, parse
from seqlab.core.progress import setup_logging
from seqlab.core.registry import get_plugin, plugin_names
from seqlab.core.train_cli import SPEC as TRAIN_SPEC
from seqlab.core.train_loop import plugin_provenance
from seqlab.core.versions import installed_versions

from .fairseq_checkpoint import FairseqCheckpoint, read_fairseq_checkpoint

PROG = "seq-import-fairseq"
logger = logging.getLogger("seqlab.import_fairseq")

#: option owners (as parse records them) whose values a checkpoint's model and task need
_CARRIED = ("default (model ", "default (task ", "default (criterion ", "arch ")
#: fairseq options not carried over: where the data was, and the training run's validation metric
_NOT_CARRIED = {
    "data",
    "eval_bleu",
    "eval_bleu_args",
    "eval_bleu_detok",
    "eval_bleu_detok_args",
    "eval_bleu_remove_bpe",
    "eval_tokenized_bleu",
    "eval_bleu_print_samples",
}


def add_args(parser: argparse.ArgumentParser) -> None:
    """The tool's own flags."""
    parser.add_argument("checkpoint", help="the fairseq checkpoint (checkpoint_best.pt, model.pt, ...)")
    parser.add_argument(
        "--data",
        default=None,
        help="the data directory fairseq trained on, for its dict.*.txt files "
        "(default: the one the checkpoint records, if it exists here)",
    )
    parser.add_argument("-o", "--output", required=True, help="where to write the seqlab checkpoint")


SPEC = ToolSpec(
    PROG,
    "Convert a fairseq checkpoint (transformer, transformer_lm, lstm and plugins with fairseq's names) "
    "into a seqlab checkpoint that seq-generate, seq-interactive, seq-eval-lm and seq-validate load.",
    add_args=add_args,
)


def seqlab_config(fs: FairseqCheckpoint, data: str) -> ResolvedConfig:
    """seq-train's options for ``fs``: fairseq's values for the model, task and criterion, defaults elsewhere."""
    criterion = fs.criterion if fs.criterion in plugin_names("criterion") else None
    if fs.criterion and criterion is None:
        logger.warning("criterion %s is not installed; the checkpoint records cross_entropy", fs.criterion)
    get_plugin("task", fs.task)  # a clear error (with suggestions) for a task seqlab does not have
    argv = [data, "--task", fs.task, "--arch", fs.arch, "--criterion", criterion or "cross_entropy"]
    defaults = parse(TRAIN_SPEC, argv)
    given = {}
    for key, value in fs.options.items():
        source = defaults.sources.get(key, "")
        if value is None or key in _NOT_CARRIED or not source.startswith(_CARRIED):
            continue
        if isinstance(value, str) and value in ("True", "False"):  # fairseq before 0.10 kept some as text
            value = value == "True"
        given[key] = value
    return parse(TRAIN_SPEC, argv, given, f"fairseq checkpoint {fs.path}")


def convert_weights(model: torch.nn.Module, state: dict[str, torch.Tensor], args: Any, path: str) -> None:
    """Load fairseq's ``state`` into ``model`` through the model's ``from_fairseq_state_dict``."""
    convert = getattr(type(model), "from_fairseq_state_dict", None)
    state = convert(dict(state), args) if convert is not None else dict(state)
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as exc:
        detail = next(
            (x.strip() for x in str(exc).splitlines() if "size mismatch" in x), str(exc).splitlines()[0]
        )
        raise SeqlabError(
            f"the weights of {path} do not fit --arch {args.arch} built with its options ({detail}); "
            "check that --data holds the dictionaries fairseq trained with"
        ) from exc
    if missing or unexpected:
        parts = [f"{len(missing)} missing (first: {missing[0]})"] if missing else []
        parts += [f"{len(unexpected)} not used (first: {unexpected[0]})"] if unexpected else []
        raise SeqlabError(
            f"the weights of {path} do not match seqlab's --arch {args.arch}: {', '.join(parts)}; "
            "a model trained with options seqlab does not provide cannot be imported"
        )


def import_checkpoint(fs: FairseqCheckpoint, data: str) -> dict[str, Any]:
    """The seqlab checkpoint (a plain dict, ready for ``torch.save``) of a fairseq checkpoint."""
    config = seqlab_config(fs, data)
    args = config.args
    task = get_plugin("task", args.task).obj.setup_task(args)
    model = task.build_model(args)
    convert_weights(model, fs.model, args, fs.path)
    ema = None
    if fs.ema is not None:
        convert_weights(model, fs.ema, args, f"{fs.path} (its moving average)")
        ema = {k: v.detach().clone() for k, v in model.state_dict().items()}
        convert_weights(model, fs.model, args, fs.path)
    return {
        "format_version": FORMAT_VERSION,
        "model": {k: v.detach().clone() for k, v in model.state_dict().items()},
        "optimizer": None,
        "lr_scheduler": None,
        "scaler": None,
        "ema": ema,
        "trainer": {"num_updates": fs.num_updates, "epoch": fs.epoch},
        "config": config.to_dict(),
        "task_state": task.state_dict(),
        "plugins": plugin_provenance(config),
        "versions": installed_versions(),
        "imported_from": {"fairseq_checkpoint": os.path.abspath(fs.path)},
    }


def _data_dir(fs: FairseqCheckpoint, given: str | None) -> str:
    if given is not None:
        if not os.path.isdir(given.split(os.pathsep)[0]):
            raise ConfigError(f"--data {given} is not a directory")
        return given
    recorded = fs.options.get("data")
    if isinstance(recorded, str) and os.path.isdir(recorded.split(os.pathsep)[0]):
        return recorded
    raise ConfigError(
        f"--data is required: the data directory with the dictionaries of {fs.path}"
        + (f" (it records {recorded}, which is not here)" if recorded else "")
    )


def _main(argv: list[str]) -> int:
    resolved = parse(SPEC, argv)
    opts = resolved.args
    setup_logging()
    fs = read_fairseq_checkpoint(opts.checkpoint)
    data = _data_dir(fs, opts.data)
    logger.info(
        "fairseq checkpoint %s: --task %s --arch %s, %d updates", fs.path, fs.task, fs.arch, fs.num_updates
    )
    checkpoint = import_checkpoint(fs, data)
    atomic_save(checkpoint, opts.output)
    logger.info("wrote %s (dictionaries from %s)", opts.output, data)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``seq-import-fairseq``."""
    return run_tool(PROG, _main, argv)


if __name__ == "__main__":
    sys.exit(main())
