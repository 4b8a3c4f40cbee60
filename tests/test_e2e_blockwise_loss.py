"""seq-train's label-smoothed loss over the transformer's features trains as the whole-logits loss does,
on one rank and on two DDP ranks (where the projection's gradient arrives through the criterion)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from seqlab.core.checkpoint_io import load_checkpoint_file

TRAIN = [
    *("--task", "translation", "--arch", "transformer", "--encoder-layers", "1", "--decoder-layers", "1"),
    *("--encoder-embed-dim", "32", "--decoder-embed-dim", "32", "--encoder-ffn-embed-dim", "64"),
    *("--decoder-ffn-embed-dim", "64", "--encoder-attention-heads", "2", "--decoder-attention-heads", "2"),
    *("--dropout", "0", "--optimizer", "adam", "--lr", "0.003"),
    *("--criterion", "label_smoothed_cross_entropy"),
    *("--label-smoothing", "0.1", "--max-tokens", "200", "--seed", "1", "--cpu", "--max-update", "8"),
    *("--log-format", "simple", "--no-epoch-checkpoints"),
]
LAUNCHER = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", "-m"]


@pytest.fixture(scope="module")
def data(copy_task) -> Path:
    """Binarized copy-task data: source and target dictionaries kept apart, so the projection is untied."""
    return copy_task("blockwise", 400, 7, 360)


def _train(data: Path, save: Path, *extra: str, launcher: list[str] | None = None) -> dict:
    cmd = [*(launcher or [sys.executable, "-m"]), "seqlab.cli.train", str(data), *TRAIN]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("SEQLAB_USER_DIRS", None)
    proc = subprocess.run(
        [*cmd, "--save-dir", str(save), *extra], capture_output=True, text=True, timeout=600, env=env
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return load_checkpoint_file(str(save / "checkpoint_last.pt"))["model"]


def _without_key_biases(state: dict) -> dict:
    """The parameters less the attention's key biases.

    A key bias adds the same score to every key of a query, which the softmax ignores: its
    gradient is zero but for rounding, and Adam scales that rounding noise up to updates of
    1e-4, which differ between any two ways of summing the same loss (they did on an AVX2 CPU).
    """
    kept = dict(state)
    for key, value in state.items():
        if key.endswith("self_attn.in_proj.bias"):  # q, k, v
            third = value.numel() // 3
            kept[key] = torch.cat([value[:third], value[2 * third :]])
        elif key.endswith("encoder_attn.kv_proj.bias"):  # k, v
            kept[key] = value[value.numel() // 2 :]
    return kept


def _assert_close(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    a, b = _without_key_biases(a), _without_key_biases(b)
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-4, atol=1e-5, msg=key)


def test_blockwise_loss_trains_as_the_whole_logits_loss(data, tmp_path):
    # --report-accuracy needs the logits, so that run takes the whole-logits loss
    blockwise = _train(data, tmp_path / "blockwise")
    whole = _train(data, tmp_path / "whole", "--report-accuracy")
    _assert_close(blockwise, whole)
    # the projection is a parameter of its own here, so its gradient comes only through the loss
    assert not torch.equal(
        blockwise["decoder.output_projection.weight"], blockwise["decoder.embed_tokens.weight"]
    )


@pytest.mark.slow
@pytest.mark.parametrize("share", [False, True], ids=["untied", "shared"])
def test_two_ddp_ranks_match_one_rank_with_the_blockwise_loss(data, tmp_path, share):
    tie = ["--share-decoder-input-output-embed"] if share else []
    one = _train(data, tmp_path / "one", "--update-freq", "2", *tie)
    two = _train(data, tmp_path / "two", *tie, launcher=LAUNCHER)
    _assert_close(one, two)


def test_bf16_blockwise_loss_trains_as_the_autocast_logits_loss(data, tmp_path):
    # under --bf16 both runs round the products to bf16, in blocks or over the whole logits
    blockwise = _train(data, tmp_path / "blockwise", "--bf16")
    whole = _train(data, tmp_path / "whole", "--bf16", "--report-accuracy")
    fp32 = _train(data, tmp_path / "fp32")
    assert blockwise.keys() == whole.keys()
    gap = max((blockwise[key] - whole[key]).abs().max().item() for key in blockwise)
    fp32_gap = max((blockwise[key] - fp32[key]).abs().max().item() for key in blockwise)
    # a vocabulary this small fits one block: the same bf16 products as autocast's, in the same order
    assert gap < 1e-4 < fp32_gap, (gap, fp32_gap)
