"""The seed's example end to end: preprocess, then seq-train with a user dir's my_transformer."""

from __future__ import annotations

import random
import subprocess
import sys
import textwrap

import torch

from seqlab.core.checkpoint_io import load_checkpoint_file

SEED_PLUGIN = """
from seqlab.core import register_model_architecture
from seqlab.models.transformer import transformer_vaswani_wmt_en_de_big

@register_model_architecture("transformer", "my_transformer")
def transformer_mmt_big(args):
    transformer_vaswani_wmt_en_de_big(args)
"""

SMALL = [
    "--encoder-layers",
    "1",
    "--decoder-layers",
    "1",
    "--encoder-embed-dim",
    "32",
    "--decoder-embed-dim",
    "32",
    "--encoder-ffn-embed-dim",
    "64",
    "--decoder-ffn-embed-dim",
    "64",
    "--encoder-attention-heads",
    "2",
    "--decoder-attention-heads",
    "2",
]


def _corpus(folder, split: str, n: int, seed: int) -> None:
    rng = random.Random(seed)
    words = [f"w{i}" for i in range(30)]
    src, tgt = [], []
    for _ in range(n):
        sent = [rng.choice(words) for _ in range(rng.randint(2, 8))]
        src.append(" ".join(sent))
        tgt.append(" ".join(reversed(sent)))
    (folder / f"{split}.src").write_text("\n".join(src) + "\n")
    (folder / f"{split}.tgt").write_text("\n".join(tgt) + "\n")


def _run(*cmd: str) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", *cmd], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def test_seed_example_trains_from_a_user_dir(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    _corpus(raw, "train", 200, 1)
    _corpus(raw, "valid", 20, 2)
    data = tmp_path / "data"
    _run(
        "seqlab.cli.preprocess",
        "--source-lang",
        "src",
        "--target-lang",
        "tgt",
        "--trainpref",
        str(raw / "train"),
        "--validpref",
        str(raw / "valid"),
        "--destdir",
        str(data),
        "--joined-dictionary",
    )
    plugin = tmp_path / "my-module"
    plugin.mkdir()
    (plugin / "__init__.py").write_text(textwrap.dedent(SEED_PLUGIN))
    train = [
        "seqlab.cli.train",
        str(data),
        "--user-dir",
        str(plugin),
        "-a",
        "my_transformer",
        "--task",
        "translation",
        *SMALL,
        "--optimizer",
        "adam",
        "--lr",
        "1e-3",
        "--lr-scheduler",
        "inverse_sqrt",
        "--warmup-updates",
        "10",
        "--criterion",
        "label_smoothed_cross_entropy",
        "--label-smoothing",
        "0.1",
        "--max-tokens",
        "400",
        "--max-update",
        "8",
        "--save-dir",
        str(tmp_path / "ckpt"),
        "--cpu",
    ]
    printed = _run(*train, "--print-config").stdout
    lines = {line.split("=")[0].strip(): line for line in printed.splitlines()}
    assert lines["encoder_embed_dim"].endswith("# command line")
    assert lines["dropout"].endswith("# arch my_transformer") and "0.3" in lines["dropout"]
    assert lines["encoder_normalize_before"].endswith("# arch my_transformer")
    _run(*train)
    ckpt = load_checkpoint_file(str(tmp_path / "ckpt" / "checkpoint_last.pt"))
    assert ckpt["trainer"]["num_updates"] == 8
    assert ckpt["config"]["arch"] == "my_transformer" and ckpt["config"]["encoder_embed_dim"] == 32
    assert ckpt["config"]["dropout"] == 0.3  # the big transformer's preset
    assert ckpt["plugins"]["arch"]["user_dir"] == str(plugin.resolve())
    assert ckpt["plugins"]["model"]["distribution"] == "seqlab-models"
    assert all(torch.isfinite(v).all() for v in ckpt["model"].values() if v.is_floating_point())
