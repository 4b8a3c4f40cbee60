"""``seq-eval-lm DATA --path CKPT``: per-token loss and perplexity of a language model on a split.

The split is cut into blocks of ``--tokens-per-sample`` tokens (the checkpoint's value
unless given); with ``--context-window N`` each block is scored after up to N tokens of
the text before it. Every token is scored exactly once. Prints fairseq's two lines::

    Evaluated 245569 tokens in 12.3s (19965.77 tokens/s)
    Loss (base 2): 4.1234, Perplexity: 17.43
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
import time
from collections.abc import Sequence

import torch

from seqlab.core import ConfigError, SeqlabError
from seqlab.core.entry import run_tool
from seqlab.core.progress import Progress, default_format
from seqlab.core.utils import move_to_device, resolve_max_positions
from seqlab.tasks.generation import EnsembleModel
from seqlab.tasks.generation.context_window import ContextWindowDataset
from seqlab.tasks.generation.lm_scoring import score_lm_batch

from .gc_freeze import loaded_objects_frozen
from .inference_options import add_batch_args, add_checkpoint_args, add_logging_args
from .inference_setup import Inference, load_inference, setup_tool_logging, split_batches

PROG = "seq-eval-lm"
DESCRIPTION = (
    "Per-token loss and perplexity of a language model on a binarized split: "
    "seq-eval-lm DATA --path CKPT [--context-window N] [--tokens-per-sample N]."
)
logger = logging.getLogger("seqlab.eval_lm")


def add_args(parser: argparse.ArgumentParser) -> None:
    """seq-eval-lm's own flags."""
    add_checkpoint_args(parser)
    add_batch_args(parser)
    g = parser.add_argument_group("evaluation")
    g.add_argument(
        "--context-window",
        type=int,
        default=0,
        metavar="N",
        help="score each block after up to N tokens of the text before it (0: blocks alone)",
    )
    add_logging_args(parser)


def position_limit(models: Sequence[torch.nn.Module], length: int) -> int | None:
    """The positions of the first model that cannot read ``length`` tokens, or None if all can.

    A decoder with seqlab's position embeddings is asked through their ``check_length``:
    sinusoidal positions read any length (``max_positions()`` is only what the model was
    trained on), learned ones their table's; a decoder without positions reads any length.
    Other models are held to their ``max_positions()``.
    """
    for model in models:
        decoder = getattr(model, "decoder", None)
        limit = resolve_max_positions(model.max_positions())
        if decoder is not None and hasattr(decoder, "embed_positions"):
            positions = decoder.embed_positions
            if positions is None:
                continue
            check = getattr(positions, "check_length", None)
            if check is not None:
                try:
                    check(length)
                except SeqlabError:
                    return getattr(positions, "max_positions", limit)
                continue
        if limit is not None and length > limit:
            return limit
    return None


def evaluate(inf: Inference) -> tuple[float, int, float]:
    """Score the split; return ``(summed natural-log probability, tokens scored, seconds)``."""
    args, task, models = inf.args, inf.task, inf.models
    ensemble = EnsembleModel(models)
    if ensemble.has_encoder:
        raise SeqlabError(
            f"{args.path} is a --task {args.task} model with an encoder; seq-eval-lm scores language "
            "models (decoder-only); use seq-generate for translation models"
        )
    if args.context_window < 0:
        raise ConfigError(f"--context-window must be 0 or more, not {args.context_window}")
    task.load_dataset(args.gen_subset)
    dataset = task.dataset(args.gen_subset)
    model_limit = resolve_max_positions(*[m.max_positions() for m in models])
    max_positions = resolve_max_positions(task.max_positions(), model_limit)
    if args.context_window > 0:
        longest = int(getattr(args, "tokens_per_sample", 0)) + args.context_window
        limit = position_limit(models, longest)
        if limit is not None:
            raise ConfigError(
                f"--tokens-per-sample {args.tokens_per_sample} + --context-window {args.context_window} = "
                f"{longest} exceeds the model's {limit} positions; lower one of them"
            )
        dataset = ContextWindowDataset(dataset, args.context_window, task.target_dictionary.pad())
        # sinusoidal positions read blocks longer than max_positions() says, as in fairseq-eval-lm
        max_positions = longest if model_limit is not None and longest > model_limit else model_limit
    itr = split_batches(task, dataset, args, max_positions)
    progress = Progress(itr, default_format(args.log_format), prefix=f"eval-lm on '{args.gen_subset}'")
    pad = task.target_dictionary.pad()
    unscored_bos = task.target_dictionary.bos() if getattr(args, "add_bos_token", False) else None
    total, count, seconds = 0.0, 0, 0.0
    for batch_no, sample in enumerate(progress, start=1):
        if not sample:
            continue
        sample = move_to_device(sample, inf.device) if inf.device.type != "cpu" else sample
        if unscored_bos is not None:  # the <s> that starts each sample (--add-bos-token)
            sample = {
                **sample,
                "target": sample["target"].masked_fill(sample["target"].eq(unscored_bos), pad),
            }
        start = time.perf_counter()
        batch_total, batch_count = score_lm_batch(ensemble, sample, pad)
        if inf.device.type == "cuda":
            torch.cuda.synchronize()
        seconds += time.perf_counter() - start
        total, count = total + batch_total, count + batch_count
        if batch_no % max(args.log_interval, 1) == 0 or progress.fmt == "tqdm":
            progress.log({"tokens/s": round(count / seconds) if seconds else 0}, tag="eval_lm", step=batch_no)
    if count == 0:
        raise SeqlabError(f"the {args.gen_subset} split has no tokens to score; check DATA and --gen-subset")
    return total, count, seconds


def _main(argv: list[str]) -> int:
    setup_tool_logging()
    inf = load_inference(PROG, DESCRIPTION, add_args, argv, with_task_options=True)
    with loaded_objects_frozen():
        total, count, seconds = evaluate(inf)
    loss = -total / count / math.log(2)
    print(f"Evaluated {count} tokens in {seconds:.1f}s ({count / seconds if seconds else 0.0:.2f} tokens/s)")
    print(f"Loss (base 2): {loss:.4f}, Perplexity: {2**loss:.2f}", flush=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``seq-eval-lm``."""
    return run_tool(PROG, _main, argv)


if __name__ == "__main__":
    sys.exit(main())
