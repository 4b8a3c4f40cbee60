"""A toy plugin set for training tests: sequence classification with every plugin kind.

``TOY_SIGNAL_AT_UPDATE=N`` and ``TOY_SIGNAL=KILL|TERM`` make the criterion send that
signal to its own process when update N starts, so tests can interrupt a run at a
known point; ``TOY_SIGNAL=HANG`` makes it stop answering instead (a SIGTERM still ends it),
and ``TOY_SIGNAL_RANK=R`` limits either to distributed rank R.
``TOY_KILL_IN_SAVE=N`` SIGKILLs the process in the middle of writing the first checkpoint
at or after update N.
``TOY_REPORT_THREADS=1`` makes each distributed rank print the names of its threads when Python exits.
"""

import atexit
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from seqlab.core import (
    BaseModel,
    Criterion,
    LRScheduler,
    Optimizer,
    Task,
    metrics,
    register_criterion,
    register_lr_scheduler,
    register_model,
    register_model_architecture,
    register_optimizer,
    register_task,
)
from seqlab.core.data import BaseDataset

PAD, CLASSES, VOCAB = 1, 4, 20


def _report_threads() -> None:
    names = sorted(comm.read_text().strip() for comm in Path("/proc/self/task").glob("*/comm"))
    # one write, newline included: print's separate writes of text and newline interleave between ranks
    sys.stdout.flush()
    os.write(1, f"toy rank {os.environ['RANK']} threads at exit: {' '.join(names)}\n".encode())


if os.environ.get("TOY_REPORT_THREADS") and "RANK" in os.environ:  # a rank, not the launcher
    atexit.register(_report_threads)


class ToyDataset(BaseDataset):
    def __init__(self, n: int, seed: int, max_len: int = 6):
        g = torch.Generator().manual_seed(seed)
        lengths = torch.randint(1, max_len + 1, (n,), generator=g).tolist()
        self.items = [torch.randint(2, VOCAB, (k,), generator=g) for k in lengths]
        self._sizes = np.array(lengths, dtype=np.int64)

    def __getitem__(self, index):
        return {"id": index, "tokens": self.items[index]}

    def __len__(self):
        return len(self.items)

    def num_tokens(self, index):
        return int(self._sizes[index])

    def size(self, index):
        return int(self._sizes[index])

    @property
    def sizes(self):
        return self._sizes

    def ordered_indices(self):
        return np.argsort(self._sizes, kind="mergesort")

    def collater(self, samples):
        if not samples:
            return {}
        width = max(len(s["tokens"]) for s in samples)
        tokens = torch.full((len(samples), width), PAD, dtype=torch.long)
        for i, s in enumerate(samples):
            tokens[i, : len(s["tokens"])] = s["tokens"]
        target = torch.stack([s["tokens"].sum() % CLASSES for s in samples])
        return {
            "id": torch.tensor([s["id"] for s in samples]),
            "nsentences": len(samples),
            "ntokens": int(sum(len(s["tokens"]) for s in samples)),
            "net_input": {
                "src_tokens": tokens,
                "src_lengths": torch.tensor([len(s["tokens"]) for s in samples]),
            },
            "target": target,
        }


@dataclass
class ToyTaskConfig:
    train_examples: int = field(default=96, metadata={"help": "training examples"})
    valid_examples: int = field(default=24, metadata={"help": "validation examples"})
    data_seed: int = field(default=7, metadata={"help": "seed of the generated data"})


@register_task("toy_classification", dataclass=ToyTaskConfig)
class ToyTask(Task):
    @classmethod
    def add_args(cls, parser):
        parser.add_argument("data", help="unused: the data are generated")
        super().add_args(parser)

    def load_dataset(self, split, combine=False, epoch=1, **kwargs):
        n = self.args.train_examples if split == "train" else self.args.valid_examples
        self.datasets[split] = ToyDataset(n, self.args.data_seed + (0 if split == "train" else 1))

    def max_positions(self):
        return 64

    def train_step(self, sample, model, criterion, optimizer, update_num, ignore_grad=False):
        self.updates_done = update_num + 1
        return super().train_step(sample, model, criterion, optimizer, update_num, ignore_grad)

    def state_dict(self):
        state = {"classes": CLASSES, "vocab": VOCAB}
        at = os.environ.get("TOY_KILL_IN_SAVE")
        if at and getattr(self, "updates_done", 0) >= int(at):
            state["kill_in_save"] = _KillWhenPickled()
        return state


class _KillWhenPickled:
    """Pickled only inside ``torch.save``, when the temporary checkpoint file is already open."""

    def __reduce__(self):
        os.kill(os.getpid(), signal.SIGKILL)


@dataclass
class ToyModelConfig:
    embed_dim: int = field(default=8, metadata={"help": "embedding size"})
    dropout: float = field(default=0.2, metadata={"help": "dropout"})


@register_model("toy_classifier", dataclass=ToyModelConfig)
class ToyClassifier(BaseModel):
    def __init__(self, embed_dim, dropout):
        super().__init__()
        self.embed = torch.nn.Embedding(VOCAB, embed_dim, padding_idx=PAD)
        self.layers = torch.nn.ModuleList([torch.nn.Linear(embed_dim, embed_dim) for _ in range(2)])
        self.dropout = torch.nn.Dropout(dropout)
        self.out = torch.nn.Linear(embed_dim, CLASSES)

    @classmethod
    def build_model(cls, args, task):
        return cls(args.embed_dim, args.dropout)

    def forward(self, src_tokens, src_lengths):
        mask = src_tokens.ne(PAD).unsqueeze(-1).float()
        x = (self.embed(src_tokens) * mask).sum(1) / src_lengths.unsqueeze(-1).float()
        for layer in self.layers:
            x = torch.tanh(layer(self.dropout(x)))
        return self.out(x)

    def max_positions(self):
        return 64


@register_model_architecture("toy_classifier", "toy_classifier_wide")
def toy_classifier_wide(args):
    args.embed_dim = getattr(args, "embed_dim", 32)


@register_criterion("toy_ce")
class ToyCrossEntropy(Criterion):
    def forward(self, model, sample, reduce=True):
        _maybe_signal(model)
        if model.training and os.environ.get("TOY_STEP_SECONDS"):
            time.sleep(float(os.environ["TOY_STEP_SECONDS"]))
        logits = model(**sample["net_input"])
        lprobs = model.get_normalized_probs(logits, log_probs=True)
        loss = torch.nn.functional.nll_loss(lprobs, sample["target"], reduction="sum")
        n = sample["nsentences"]
        return (
            loss,
            n,
            {"loss": loss.detach(), "nsentences": n, "ntokens": sample["ntokens"], "sample_size": n},
        )

    @classmethod
    def reduce_metrics(cls, logging_outputs):
        loss = sum(float(o["loss"]) for o in logging_outputs)
        size = sum(o["sample_size"] for o in logging_outputs)
        metrics.log_scalar("loss", loss / max(size, 1), size, round=4)

    @staticmethod
    def logging_outputs_can_be_summed():
        return True


def _maybe_signal(model):
    at = os.environ.get("TOY_SIGNAL_AT_UPDATE")
    rank = os.environ.get("TOY_SIGNAL_RANK")
    if rank is not None and rank != os.environ.get("RANK", "0"):
        return
    if at and model.training and model.num_updates == int(at):
        name = os.environ.get("TOY_SIGNAL", "KILL")
        if name == "HANG":
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            time.sleep(600)
        os.kill(os.getpid(), getattr(signal, "SIG" + name))


@dataclass
class ToySGDConfig:
    momentum: float = field(default=0.9, metadata={"help": "momentum"})


@register_optimizer("toy_sgd", dataclass=ToySGDConfig)
class ToySGD(Optimizer):
    def __init__(self, args, params):
        super().__init__(args)
        self._optimizer = torch.optim.SGD(params, lr=args.lr[0], momentum=args.momentum)

    @property
    def optimizer_config(self):
        return {"lr": self.args.lr[0], "momentum": self.args.momentum}


@dataclass
class ToyWarmupConfig:
    warmup_updates: int = field(default=4, metadata={"help": "linear warmup updates"})
    toy_epoch_shrink: float = field(default=1.0, metadata={"help": "lr factor at each validated epoch end"})
    toy_epoch_start: float = field(default=1.0, metadata={"help": "lr factor of each epoch's first update"})


@register_lr_scheduler("toy_warmup", dataclass=ToyWarmupConfig)
class ToyWarmup(LRScheduler):
    """Linear warmup; ``--toy-epoch-shrink`` makes each validated epoch's end lower the lr for good,
    ``--toy-epoch-start`` scales the first update of each epoch (as polynomial_decay's epoch start does)."""

    def __init__(self, args, optimizer):
        super().__init__(args, optimizer)
        self.scale, self.updates = 1.0, 0

    def state_dict(self):
        return {**super().state_dict(), "scale": self.scale}

    def load_state_dict(self, state_dict):
        super().load_state_dict(state_dict)
        self.scale = state_dict.get("scale", 1.0)

    def step(self, epoch, val_loss=None):
        if val_loss is not None:
            self.scale *= self.args.toy_epoch_shrink
            self.step_update(self.updates)  # the next update already uses the lower lr
        return super().step(epoch, val_loss)

    def step_begin_epoch(self, epoch):
        self.optimizer.set_lr(self.optimizer.get_lr() * self.args.toy_epoch_start)
        return self.optimizer.get_lr()

    def step_update(self, num_updates):
        self.updates = num_updates
        peak = self.args.lr[0] * self.scale
        warm = self.args.warmup_updates
        lr = peak * min(1.0, (num_updates + 1) / warm) if warm > 0 else peak
        self.optimizer.set_lr(lr)
        return lr
