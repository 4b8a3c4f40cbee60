"""``--lm-path``/``--lm-weight``: a language model fused shallowly into the search (fairseq's flags).

The language model is a ``seq-train`` checkpoint of its own (``--task language_modeling``)
whose dictionary must be the translation model's target dictionary: its next-token
log-probabilities, times ``--lm-weight``, are added to the translation model's at every step.
"""

from __future__ import annotations

import argparse
from typing import Any

import torch

from seqlab.core import ConfigError, SeqlabError

from .inference_setup import build_task, checkpoint_task_plugin, load_checkpoint, load_model


def add_lm_fusion_args(group: Any) -> None:
    """``--lm-path`` and ``--lm-weight``."""
    group.add_argument(
        "--lm-path",
        metavar="FILE",
        default=None,
        help="a language model checkpoint (on the target dictionary) to fuse into the search",
    )
    group.add_argument(
        "--lm-weight",
        type=float,
        default=0.0,
        help="the fused language model's log-probabilities are added times this (needs --lm-path)",
    )


def check_lm_fusion_args(args: argparse.Namespace) -> None:
    """``--lm-path`` and ``--lm-weight`` come together."""
    if args.lm_path is None and args.lm_weight:
        raise ConfigError("--lm-weight needs --lm-path, the language model checkpoint to fuse")
    if args.lm_path is not None and not args.lm_weight:
        raise ConfigError(
            "--lm-path needs a non-zero --lm-weight (with 0 the language model changes nothing)"
        )


def load_fusion_lm(
    args: argparse.Namespace, target_dictionary: Any, device: torch.device
) -> torch.nn.Module | None:
    """The ``--lm-path`` model, ready to decode, or None without ``--lm-path``."""
    path = args.lm_path
    if path is None:
        return None
    checkpoint = load_checkpoint(path)
    plugin = checkpoint_task_plugin(checkpoint, f"--lm-path {path}")
    config = checkpoint["config"]
    task = build_task(plugin, argparse.Namespace(**config), checkpoint, path, with_data=False)
    model = load_model(task, path, checkpoint, args, device, strict_dropout_classes=False)
    if getattr(model, "encoder", None) is not None:
        raise SeqlabError(
            f"--lm-path {path} is an encoder-decoder model (--arch {config['arch']}); fuse a language model "
            "(seq-train --task language_modeling)"
        )
    if list(task.target_dictionary.symbols) != list(target_dictionary.symbols):
        raise SeqlabError(
            f"--lm-path {path} was trained with another dictionary than the translation model's target "
            "dictionary; binarize its data with seq-preprocess --only-source --srcdict <the translation data's dict.TGT.txt>"
        )
    return model
