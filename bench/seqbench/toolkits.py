"""The two toolkits' command lines and environments, side by side, for the same CONFIG-A work."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from .config import COMMON_TRAIN_FLAGS, thread_env

BENCH_DIR = Path(__file__).resolve().parents[1]
#: batch-size multiple 1: fairseq 0.12 drops the sentences that do not fill a multiple of 8
GEN_BATCH = ["--batch-size", "128", "--required-batch-size-multiple", "1"]
#: generation length cap for the speed row: models trained for a few dozen updates rarely emit
#: end-of-sentence, and the default cap of 200 tokens would time degenerate output only
SPEED_LENGTH_CAP = ["--max-len-a", "1.2", "--max-len-b", "10"]


@dataclass(frozen=True)
class Toolkit:
    """One toolkit: where its commands lie, what it is called, and the environment it runs in."""

    name: str
    bin: Path
    prefix: str  # "seq" or "fairseq"
    extra_env: dict[str, str] = field(default_factory=dict)

    def tool(self, command: str) -> str:
        """The path of ``<prefix>-<command>`` (train, generate, preprocess)."""
        return str(self.bin / f"{self.prefix}-{command}")

    def env(self, threads: int) -> dict[str, str]:
        """The child environment: the shared thread count plus what this toolkit needs."""
        return thread_env(threads, self.extra_env)

    def train_argv(
        self, data: Path, save_dir: Path, stop: list[str], log_interval: int, bf16: bool = False
    ) -> list[str]:
        """A CONFIG-A training run that stops as ``stop`` says (``--max-update N``, ``--max-epoch N`` ...)."""
        argv = [self.tool("train"), str(data), *COMMON_TRAIN_FLAGS, *stop]
        argv += ["--log-format", "json", "--log-interval", str(log_interval), "--disable-validation"]
        argv += ["--save-dir", str(save_dir), "--no-epoch-checkpoints"]
        return argv + (["--bf16"] if bf16 else [])

    def generate_argv(self, data: Path, checkpoint: Path, extra: list[str] = ()) -> list[str]:
        """Beam 5 over the test split with one checkpoint, on the CPU."""
        argv = [self.tool("generate"), str(data), "--path", str(checkpoint), "--gen-subset", "test"]
        return argv + ["--beam", "5", *GEN_BATCH, "--cpu", *extra]


def seqlab(bin_dir: Path) -> Toolkit:
    """seqlab, from the environment the bench runs in (or the one given)."""
    return Toolkit("seqlab", bin_dir, "seq")


def fairseq(bin_dir: Path) -> Toolkit:
    """fairseq 0.12; with torch >= 2.6 its checkpoints load only without weights-only unpickling."""
    return Toolkit("fairseq", bin_dir, "fairseq", {"TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1"})


def bench_module_argv(module: str, *args: str) -> list[str]:
    """Run ``seqbench.<module>`` with this interpreter (needs :func:`bench_env`)."""
    return [sys.executable, "-m", f"seqbench.{module}", *args]


def bench_env(threads: int) -> dict[str, str]:
    """The environment of a ``seqbench.*`` child: the shared thread count, bench/ importable."""
    return thread_env(threads, {"PYTHONPATH": str(BENCH_DIR)})
