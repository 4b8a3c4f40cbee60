"""Where a task finds its files in a data directory written by seq-preprocess."""

from __future__ import annotations

import os

from seqlab.core import SeqlabError

from .sentencepiece_model import MODEL_FILENAME


def split_paths(data: str) -> list[str]:
    """The data directories of ``data`` (several joined by ``os.pathsep``, used one per epoch)."""
    paths = [p for p in str(data or "").split(os.pathsep) if p]
    if not paths:
        raise SeqlabError("no data directory given; pass the directory seq-preprocess --destdir wrote")
    return paths


def epoch_data_path(data: str, epoch: int) -> str:
    """The data directory that epoch ``epoch`` (from 1) reads: the directories of ``data`` in turn."""
    paths = split_paths(data)
    return paths[(epoch - 1) % len(paths)]


def sentencepiece_path(data_dir: str) -> str | None:
    """The sentencepiece model seq-preprocess stored in ``data_dir``, or None."""
    path = os.path.join(data_dir, MODEL_FILENAME)
    return path if os.path.isfile(path) else None
