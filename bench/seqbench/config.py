"""CONFIG-A: the workload every training row shares, written once for both toolkits."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / ".bench-cache"
RESULTS = REPO / "bench-results"
DEFAULT_DATA = REPO.parent / "shared" / "data" / "multi30k"
SPLITS = {"train": "train", "valid": "val", "test": "test_2016_flickr"}
LANGS = ("en", "de")
SPM_PIECES = 8000

#: model, optimisation and batching flags both CLIs accept under the same names
COMMON_TRAIN_FLAGS = [
    "--task", "translation", "--source-lang", "en", "--target-lang", "de",
    "--arch", "transformer",
    "--encoder-layers", "3", "--decoder-layers", "3",
    "--encoder-embed-dim", "256", "--decoder-embed-dim", "256",
    "--encoder-ffn-embed-dim", "1024", "--decoder-ffn-embed-dim", "1024",
    "--encoder-attention-heads", "4", "--decoder-attention-heads", "4",
    "--share-all-embeddings", "--dropout", "0.1",
    "--optimizer", "adam", "--adam-betas", "(0.9, 0.98)",
    "--lr", "5e-4", "--lr-scheduler", "inverse_sqrt", "--warmup-updates", "1000",
    "--criterion", "label_smoothed_cross_entropy", "--label-smoothing", "0.1",
    "--max-tokens", "4096", "--seed", "1", "--cpu", "--num-workers", "0",
]  # fmt: skip


@dataclass(frozen=True)
class Arch:
    """The CONFIG-A transformer's shape, for counting its FLOPs."""

    layers_enc: int = 3
    layers_dec: int = 3
    dim: int = 256
    ffn: int = 1024
    heads: int = 4


CONFIG_A = Arch()


def default_threads() -> int:
    """The cores this process may run on: both toolkits get this many torch threads."""
    return len(os.sched_getaffinity(0))


def thread_env(threads: int, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a measured child: same thread count for every library that reads one."""
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[var] = str(threads)
    env.pop("PYTHONPATH", None)  # the fairseq venv must not see the seqlab environment's paths
    env.update(extra or {})
    return env
