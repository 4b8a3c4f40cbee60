"""Checkpoint files: written atomically, read as plain data only (``weights_only=True``)."""

from __future__ import annotations

import os
import pickle
import tempfile
from typing import Any

import torch

from .errors import SeqlabError

#: the layout of the checkpoint dict; a newer file than this code refuses to load
FORMAT_VERSION = 1


def atomic_save(obj: dict[str, Any], path: str) -> None:
    """Write ``obj`` with ``torch.save`` to a temporary file, fsync it, then rename it over ``path``."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".pt", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save(obj, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    _fsync_dir(folder)


def atomic_copy(src: str, dst: str) -> None:
    """Copy a file so that ``dst`` is either the old file or the whole new one, never a part."""
    folder = os.path.dirname(os.path.abspath(dst))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".pt", dir=folder)
    try:
        with os.fdopen(fd, "wb") as out, open(src, "rb") as inp:
            while chunk := inp.read(1 << 22):
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, dst)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    _fsync_dir(folder)


def load_checkpoint_file(path: str) -> dict[str, Any]:
    """Load a checkpoint as plain data; refuse pickled code, truncation and newer formats clearly."""
    if not os.path.isfile(path):
        raise SeqlabError(f"checkpoint {path} does not exist; check --path / --restore-file")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise SeqlabError(
            f"checkpoint {path} holds objects that are not plain data (a pickle that could run code); "
            f"refusing to load it. Re-save it from its source as tensors and plain values ({_first_line(exc)})"
        ) from exc
    except (RuntimeError, EOFError, OSError, ValueError) as exc:
        raise SeqlabError(
            f"checkpoint {path} is truncated or corrupt ({_first_line(exc)}); use another checkpoint"
        ) from exc
    if not isinstance(state, dict) or "model" not in state:
        raise SeqlabError(f"checkpoint {path} is not a seqlab checkpoint (no 'model' entry)")
    version = state.get("format_version")
    if isinstance(version, int) and version > FORMAT_VERSION:
        raise SeqlabError(
            f"checkpoint {path} has format version {version}, newer than this seqlab-core reads "
            f"({FORMAT_VERSION}); upgrade seqlab-core"
        )
    return state


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _fsync_dir(folder: str) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
