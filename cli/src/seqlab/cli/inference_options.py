"""Flags shared by seq-generate, seq-interactive and seq-eval-lm (fairseq's names)."""

from __future__ import annotations

import argparse

from seqlab.core.dataclass_options import add_dataclass_args
from seqlab.core.progress import FORMATS
from seqlab.tasks.generation import GenerationConfig
from seqlab.tasks.generation.alignment import ALIGNMENT_KINDS

from .lm_fusion import add_lm_fusion_args
from .unk_replacement import add_replace_unk_arg


def add_checkpoint_args(parser: argparse.ArgumentParser) -> None:
    """``--path`` and where and how the models run."""
    g = parser.add_argument_group("checkpoint")
    g.add_argument(
        "--path",
        metavar="FILE",
        default=None,
        help="the checkpoint to use; several joined by ':' are ensembled (their probabilities averaged)",
    )
    g.add_argument("--cpu", action="store_true", help="run on the CPU even when a GPU is present")
    g.add_argument("--fp16", action="store_true", help="run the models in float16")
    g.add_argument("--bf16", action="store_true", help="run the models in bfloat16")
    g.add_argument("--seed", type=int, default=1, help="random seed (for --sampling)")
    g.add_argument(
        "--ema-weights",
        action="store_true",
        help="use the moving average of the weights a --store-ema run saved instead of its last weights",
    )
    g.add_argument(
        "--model-overrides",
        metavar="DICT",
        default=None,
        help="model options that replace the checkpoint's when the model is rebuilt, as a JSON object "
        "or Python dict, e.g. '{\"max_target_positions\": 2048}'",
    )


def add_batch_args(parser: argparse.ArgumentParser, subset: bool = True) -> None:
    """Batching flags, and ``--gen-subset`` for the tools that read a data split."""
    g = parser.add_argument_group("batching")
    if subset:
        g.add_argument("--gen-subset", default="test", metavar="SPLIT", help="the data split to use")
    g.add_argument(
        "--batch-size",
        "--max-sentences",
        dest="batch_size",
        type=int,
        default=None,
        help="sentences per batch",
    )
    g.add_argument("--max-tokens", type=int, default=None, help="tokens per batch (padding included)")
    g.add_argument(
        "--required-batch-size-multiple", type=int, default=1, help="batch sizes are a multiple of this"
    )
    g.add_argument("--num-workers", type=int, default=0, help="data-loading processes (0: in this process)")
    g.add_argument(
        "--skip-invalid-size-inputs-valid-test",
        action="store_true",
        help="skip examples longer than the model allows instead of failing",
    )


def add_logging_args(parser: argparse.ArgumentParser) -> None:
    """Progress output."""
    g = parser.add_argument_group("logging")
    g.add_argument(
        "--log-format",
        choices=FORMATS,
        default=None,
        help="progress: a bar on a terminal (tqdm), log lines otherwise (simple)",
    )
    g.add_argument("--log-interval", type=int, default=100, help="batches between progress log lines")


def add_generation_args(parser: argparse.ArgumentParser) -> None:
    """The search options (:class:`~seqlab.tasks.generation.GenerationConfig`) and ``--remove-bpe``."""
    g = parser.add_argument_group("generation")
    add_dataclass_args(g, GenerationConfig)
    g.add_argument(
        "--remove-bpe",
        "--post-process",
        dest="remove_bpe",
        nargs="?",
        const="@@ ",
        default=None,
        metavar="MARKER",
        help="remove this BPE marker from the output ('sentencepiece', or '@@ ' when given alone); "
        "without it, a checkpoint's sentencepiece model decodes the output exactly",
    )
    add_lm_fusion_args(g)
    g.add_argument(
        "--retain-dropout",
        action="store_true",
        help="keep the models' dropout on while generating (Monte Carlo dropout): outputs then "
        "depend on --seed",
    )
    g.add_argument(
        "--retain-dropout-modules",
        nargs="+",
        metavar="CLASS",
        default=None,
        help="with --retain-dropout, keep dropout on only in modules of these classes (e.g. "
        "TransformerDecoderLayer); each module's own dropout, not its children's",
    )
    add_replace_unk_arg(g)
    g.add_argument(
        "--print-alignment",
        nargs="?",
        const="hard",
        choices=ALIGNMENT_KINDS,
        default=None,
        help="print an A- line per hypothesis from the last decoder layer's attention: 'hard' (the "
        "default) pairs each target token with its most attended source token as src-tgt indices, "
        "'soft' prints each target token's weights over the source",
    )
