"""Checkpoint files: written atomically, read as plain data only (``weights_only=True``)."""

from __future__ import annotations

import errno
import os
import pickle
import re
import tempfile
from typing import Any

import torch

from .errors import SeqlabError

#: the layout of the checkpoint dict; a newer file than this code refuses to load
FORMAT_VERSION = 1


#: write failures that more free space (or a smaller file) would cure
_NO_SPACE = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


class _RecordingWriter:
    """A file wrapper that keeps the OSError of a failed write: torch.save reports only "unexpected pos"."""

    def __init__(self, fh: Any) -> None:
        self.fh = fh
        self.error: OSError | None = None

    def write(self, data: bytes) -> int:
        try:
            return self.fh.write(data)
        except OSError as exc:
            self.error = exc
            raise

    def flush(self) -> None:
        self.fh.flush()


def write_failure(path: str, exc: OSError) -> SeqlabError:
    """Return the one-line error for a checkpoint that could not be written (disk full, quota, size limit)."""
    reason = exc.strerror or str(exc)
    if exc.errno in _NO_SPACE:
        fix = "free some disk space or choose another --save-dir"
    else:
        fix = "check that the folder is writable and has space"
    return SeqlabError(
        f"could not write {path}: {reason}; {fix} (the checkpoints already there are unchanged)"
    )


def atomic_save(obj: dict[str, Any], path: str) -> None:
    """Write ``obj`` with ``torch.save`` to a temporary file, fsync it, then rename it over ``path``."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".pt", dir=folder)
    fh = os.fdopen(fd, "wb")
    writer = _RecordingWriter(fh)
    try:
        with fh:
            torch.save(obj, writer)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        _discard(tmp)
        _raise_write_failure(path, exc, writer.error)
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
    except BaseException as exc:
        _discard(tmp)
        _raise_write_failure(dst, exc, None)
        raise
    _fsync_dir(folder)


def _raise_write_failure(path: str, exc: BaseException, recorded: OSError | None) -> None:
    # torch.save turns a failed write into RuntimeError("unexpected pos"); the recorded OSError says why
    cause = recorded or (exc if isinstance(exc, OSError) else None)
    if cause is not None:
        raise write_failure(path, cause) from exc


def _discard(tmp: str) -> None:
    try:
        os.unlink(tmp)
    except FileNotFoundError:
        pass


def load_checkpoint_file(path: str) -> dict[str, Any]:
    """Load a checkpoint as plain data; refuse pickled code, truncation and newer formats clearly."""
    if not os.path.isfile(path):
        raise SeqlabError(f"checkpoint {path} does not exist; check --path / --restore-file")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise SeqlabError(
            f"checkpoint {path} holds objects that are not plain data (a pickle that could run code: "
            f"{blocked_global(exc)}); refusing to load it. Re-save it from its source as tensors and plain values"
        ) from exc
    except Exception as exc:  # torch.load fails on arbitrary bytes with many types (IndexError, KeyError...)
        raise SeqlabError(
            f"checkpoint {path} is truncated or corrupt, or not a checkpoint at all ({first_sentence(exc)}); "
            "use another checkpoint"
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


def first_sentence(exc: BaseException) -> str:
    """The first line of an exception's first sentence (for a one-line error)."""
    text = str(exc).strip().split(". ")[0].splitlines()
    return text[0].rstrip(".") if text else type(exc).__name__


def blocked_global(exc: BaseException) -> str:
    """The object torch's weights-only loader refused, e.g. ``GLOBAL posix.system``."""
    found = re.search(r"GLOBAL [\w.]+", str(exc))
    return found.group(0) if found else first_sentence(exc)


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
