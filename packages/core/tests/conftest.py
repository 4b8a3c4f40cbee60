"""Fixtures for seqlab-core's tests: a clean registry and user-dir folders made on the fly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from seqlab.core.testing import isolated_plugins


@pytest.fixture(autouse=True)
def clean_registry():
    """Each test starts from the registries and user dirs it found, and leaves them so."""
    with isolated_plugins():
        yield
    for name in [m for m in sys.modules if m.startswith("fakeplug")]:
        del sys.modules[name]


@pytest.fixture
def make_dir(tmp_path: Path):
    """Return a function that writes ``{relative path: source}`` under a new folder and returns it."""

    def make(name: str, files: dict[str, str]) -> Path:
        root = tmp_path / name
        for rel, text in files.items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text))
        return root

    return make


TOY_PLUGINS = """
from dataclasses import dataclass, field
from typing import Literal

import torch

from seqlab.core import (
    BaseModel, Criterion, LRScheduler, Optimizer, Task,
    register_criterion, register_lr_scheduler, register_model, register_model_architecture,
    register_optimizer, register_task,
)


@dataclass
class ToyModelConfig:
    hidden: int = field(default=8, metadata={"help": "hidden size"})
    layers: int = field(default=1, metadata={"help": "number of layers"})
    dropout: float = field(default=0.1, metadata={"help": "dropout probability"})
    activation: Literal["relu", "gelu"] = field(default="relu", metadata={"help": "activation"})
    tie: bool = field(default=False, metadata={"help": "tie weights"})
    bias: bool = field(default=True, metadata={"help": "use biases"})
    sizes: list[int] = field(default_factory=lambda: [1, 2], metadata={"help": "sizes"})


@register_model("toy_model", dataclass=ToyModelConfig)
class ToyModel(BaseModel):
    def __init__(self, hidden):
        super().__init__()
        self.proj = torch.nn.Linear(hidden, hidden)

    @classmethod
    def build_model(cls, args, task):
        return cls(args.hidden)


@register_model_architecture("toy_model", "toy_big")
def toy_big(args):
    args.hidden = getattr(args, "hidden", 64)
    args.layers = getattr(args, "layers", 4)
    args.dropout = getattr(args, "dropout", 0.3)


@register_model_architecture("toy_model", "toy_bigger")
def toy_bigger(args):
    args.layers = getattr(args, "layers", 12)
    toy_big(args)


@dataclass
class ToyTaskConfig:
    max_positions: int = field(default=128, metadata={"help": "longest example"})


@register_task("toy_task", dataclass=ToyTaskConfig)
class ToyTask(Task):
    @classmethod
    def add_args(cls, parser):
        parser.add_argument("data", help="data directory")
        super().add_args(parser)


@register_criterion("toy_crit")
class ToyCriterion(Criterion):
    @staticmethod
    def add_args(parser):
        parser.add_argument("--toy-weight", type=float, default=1.0, help="loss weight")


@dataclass
class ToyOptimizerConfig:
    momentum: float = field(default=0.0, metadata={"help": "momentum factor"})


@register_optimizer("toy_opt", dataclass=ToyOptimizerConfig)
class ToyOptimizer(Optimizer):
    def __init__(self, args, params):
        super().__init__(args)
        self._optimizer = torch.optim.SGD(params, lr=args.lr[0], momentum=args.momentum)


@dataclass
class ToySchedulerConfig:
    warmup_updates: int = field(default=0, metadata={"help": "warmup updates"})
    lr_scheduler_shrink: float = field(default=0.5, metadata={"help": "shrink factor"})


@register_lr_scheduler("toy_sched", dataclass=ToySchedulerConfig)
class ToyScheduler(LRScheduler):
    pass
"""


@pytest.fixture
def toy_dir(make_dir):
    """A user dir registering one toy plugin of every kind."""
    return make_dir("toy-plugins", {"__init__.py": "from . import plugins\n", "plugins.py": TOY_PLUGINS})


TOY_TRAINING = Path(__file__).parent / "toy_training"
TRAIN_ARGS = [
    "DATA",
    "--user-dir",
    str(TOY_TRAINING),
    "--task",
    "toy_classification",
    "-a",
    "toy_classifier",
    "--criterion",
    "toy_ce",
    "--optimizer",
    "toy_sgd",
    "--lr-scheduler",
    "toy_warmup",
    "--batch-size",
    "8",
    "--required-batch-size-multiple",
    "1",
    "--lr",
    "0.3",
    "--log-format",
    "simple",
    "--log-interval",
    "4",
]


def train_command(
    save_dir: Path, *extra: str, launcher: list[str] | None = None, cpu: bool = True
) -> list[str]:
    """The command line running seq-train on the toy plugins, writing to ``save_dir``."""
    return [
        *(launcher or [sys.executable, "-m"]),
        "seqlab.core.train_cli",
        *TRAIN_ARGS,
        *(["--cpu"] if cpu else []),
        "--save-dir",
        str(save_dir),
        *extra,
    ]


def train_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment plus ``env``, without user dirs that could shadow the toy plugins."""
    full_env = {**os.environ, **(env or {})}
    full_env.pop("SEQLAB_USER_DIRS", None)
    return full_env


@pytest.fixture
def train():
    """Return a function running seq-train's command line on the toy plugins in a new process."""

    def run(
        save_dir: Path,
        *extra: str,
        env: dict[str, str] | None = None,
        launcher: list[str] | None = None,
        cpu: bool = True,
    ):
        cmd = train_command(save_dir, *extra, launcher=launcher, cpu=cpu)
        return subprocess.run(cmd, capture_output=True, text=True, env=train_env(env), timeout=300)

    return run


@pytest.fixture
def descendants():
    """Return a function listing the pids of every process below a pid (Linux ``/proc``)."""
    return _descendants


def _descendants(pid: int) -> list[int]:
    # torchrun starts each rank in a session of its own, so only the parent links reach them all
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        kids = children.get(todo.pop(), [])
        found += kids
        todo += kids
    return found


@pytest.fixture
def start_train():
    """Return a function starting seq-train on the toy plugins, stdout and stderr in one text pipe."""
    started: list[subprocess.Popen] = []

    def start(save_dir: Path, *extra: str, env: dict[str, str] | None = None, launcher=None):
        cmd = train_command(save_dir, *extra, launcher=launcher)
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=train_env(env)
        )
        started.append(proc)
        return proc

    yield start
    for proc in started:  # a failed test must not leave a training process or its ranks behind
        for pid in [proc.pid, *_descendants(proc.pid)] if proc.poll() is None else []:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        proc.wait()
        proc.stdout.close()
