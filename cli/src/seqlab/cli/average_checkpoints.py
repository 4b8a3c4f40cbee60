"""``seq-average-checkpoints``: average the weights of the last N checkpoints, as fairseq's script does."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from seqlab.core.averaging import average_checkpoints, last_checkpoints
from seqlab.core.checkpoint_io import atomic_save
from seqlab.core.entry import run_tool
from seqlab.core.errors import ConfigError

PROG = "seq-average-checkpoints"


def build_parser() -> argparse.ArgumentParser:
    """Return the parser of ``seq-average-checkpoints``."""
    parser = argparse.ArgumentParser(
        prog=PROG, description="Average the model weights of several checkpoints."
    )
    parser.add_argument(
        "--inputs",
        nargs="+",
        required=True,
        help="checkpoint files, or one --save-dir with --num-epoch-checkpoints / --num-update-checkpoints",
    )
    parser.add_argument("--output", required=True, help="where to write the averaged checkpoint")
    which = parser.add_mutually_exclusive_group()
    which.add_argument(
        "--num-epoch-checkpoints", type=int, help="average the last N checkpoint<epoch>.pt files"
    )
    which.add_argument(
        "--num-update-checkpoints", type=int, help="average the last N checkpoint_<epoch>_<update>.pt files"
    )
    parser.add_argument(
        "--checkpoint-upper-bound", type=int, help="ignore checkpoints after this epoch (or update)"
    )
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    return parser


def _main(argv: list[str]) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    count = args.num_epoch_checkpoints or args.num_update_checkpoints
    if count is not None:
        if len(args.inputs) != 1:
            raise ConfigError("with --num-*-checkpoints, --inputs takes exactly one folder (the --save-dir)")
        paths = last_checkpoints(
            args.inputs[0],
            count,
            by_update=args.num_update_checkpoints is not None,
            upper_bound=args.checkpoint_upper_bound,
        )
    else:
        paths = list(args.inputs)
    print(f"averaging {len(paths)} checkpoints: {', '.join(paths)}")
    atomic_save(average_checkpoints(paths), args.output)
    print(f"wrote {args.output}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``seq-average-checkpoints``."""
    return run_tool(PROG, _main, argv)


if __name__ == "__main__":
    sys.exit(main())
