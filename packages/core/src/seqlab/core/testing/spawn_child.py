"""Run a model's forward pass in a process started with multiprocessing's *spawn* method.

DDP workers and data-loader workers on macOS and Windows are spawned, not forked: they
start a fresh interpreter and must rebuild every object from its pickle. One spawned
worker is kept between checks, because each fresh one pays for importing torch; it is
replaced when ``sys.path`` changes, so that it never runs a stale module of the same name.
"""

from __future__ import annotations

import io
import multiprocessing
import pickle
import sys
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import torch

from .. import user_dir

_executor: ProcessPoolExecutor | None = None
_started_with: list[str] = []


def _pool() -> ProcessPoolExecutor:
    global _executor, _started_with
    if _executor is not None and _started_with != sys.path:
        _executor.shutdown(wait=True)
        _executor = None
    if _executor is None:
        # a spawned process starts with the sys.path its parent has now
        _executor = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
        _started_with = list(sys.path)
    return _executor


def unpickle_and_forward(payload: bytes, user_dirs: list[str]) -> bytes:
    """In the child: import the user dirs, unpickle ``(model, net_input)``, return the logits, saved."""
    user_dir.import_user_dirs(user_dirs)
    model, net_input = pickle.loads(payload)
    with torch.no_grad():
        out = model(**net_input)
    logits = out if torch.is_tensor(out) else out[0]
    buf = io.BytesIO()
    torch.save(logits, buf)
    return buf.getvalue()


def forward_in_spawned_process(payload: bytes) -> torch.Tensor:
    """Run :func:`unpickle_and_forward` in the spawned worker and return its logits."""
    global _executor
    dirs = user_dir.imported_user_dirs()
    try:
        result = _pool().submit(unpickle_and_forward, payload, dirs).result()
    except BrokenProcessPool:
        _executor = None  # the worker died (a crash in the plugin's code): start afresh next time
        raise
    return torch.load(io.BytesIO(result), weights_only=True)
