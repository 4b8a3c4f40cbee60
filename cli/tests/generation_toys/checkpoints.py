"""Write a checkpoint of a freshly built model as seq-train lays one out (no optimizer state)."""

from __future__ import annotations

import os

import torch

from seqlab.core import setup_task
from seqlab.core.checkpoint_io import FORMAT_VERSION, atomic_save
from seqlab.core.options import ARCH, TASK, ToolSpec, parse
from seqlab.core.train_loop import plugin_provenance
from seqlab.core.versions import installed_versions

HERE = os.path.dirname(os.path.abspath(__file__))


def write_checkpoint(path, data, task="translation", arch="toy_seq2seq", flags=(), seed=0):
    """Build ``arch`` for ``task`` on ``data`` (weights from ``seed``) and save it to ``path``; return the model."""
    config = parse(
        ToolSpec("toy", "", choices=(TASK, ARCH)),
        [str(data), "--task", task, "--arch", arch, "--user-dir", HERE, *flags],
    )
    built = setup_task(config.args)
    torch.manual_seed(seed)
    model = built.build_model(config.args)
    checkpoint = {
        "format_version": FORMAT_VERSION,
        "model": model.state_dict(),
        "config": config.to_dict(),
        "task_state": built.state_dict(),
        "plugins": plugin_provenance(config),
        "versions": installed_versions(),
    }
    atomic_save(checkpoint, str(path))
    return model.eval()
