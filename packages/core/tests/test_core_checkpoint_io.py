"""Checkpoint files: atomic writes, plain-data loading, clear refusals."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
import torch

from seqlab.core import SeqlabError
from seqlab.core.checkpoint_io import FORMAT_VERSION, atomic_save, load_checkpoint_file


class _Payload:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_round_trip_plain_data(tmp_path):
    path = tmp_path / "ckpt.pt"
    state = {"format_version": FORMAT_VERSION, "model": {"w": torch.arange(3.0)}, "config": {"lr": [0.1]}}
    atomic_save(state, str(path))
    back = load_checkpoint_file(str(path))
    assert torch.equal(back["model"]["w"], torch.arange(3.0)) and back["config"] == {"lr": [0.1]}
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.pt"]  # no temporary file left


def test_pickle_payload_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "code-ran"
    path = tmp_path / "evil.pt"
    torch.save({"model": {}, "evil": _Payload(str(marker))}, str(path))
    with pytest.raises(SeqlabError) as err:
        load_checkpoint_file(str(path))
    assert "refusing to load it" in str(err.value)
    assert not marker.exists()


def test_truncated_checkpoint_is_a_clear_error(tmp_path):
    path = tmp_path / "ckpt.pt"
    atomic_save({"format_version": 1, "model": {"w": torch.randn(100)}}, str(path))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(SeqlabError, match="truncated or corrupt"):
        load_checkpoint_file(str(path))


def test_a_file_that_is_not_a_checkpoint_is_a_clear_error(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello\n")
    with pytest.raises(SeqlabError, match="truncated or corrupt, or not a checkpoint at all"):
        load_checkpoint_file(str(path))


def test_newer_format_is_refused(tmp_path):
    path = tmp_path / "ckpt.pt"
    atomic_save({"format_version": FORMAT_VERSION + 1, "model": {}}, str(path))
    with pytest.raises(SeqlabError, match="newer than this seqlab-core reads"):
        load_checkpoint_file(str(path))


def test_not_a_checkpoint(tmp_path):
    path = tmp_path / "x.pt"
    torch.save({"weights": 1}, str(path))
    with pytest.raises(SeqlabError, match="not a seqlab checkpoint"):
        load_checkpoint_file(str(path))


def test_kill_during_save_leaves_the_previous_checkpoint(tmp_path):
    path = tmp_path / "checkpoint_last.pt"
    script = textwrap.dedent(f"""
        import os, signal, torch
        from seqlab.core import checkpoint_io
        checkpoint_io.atomic_save({{"format_version": 1, "model": {{"v": torch.tensor(1.0)}}}}, {str(path)!r})
        real_save = torch.save
        def dying_save(obj, fh):
            fh.write(b"PK" + b"x" * 4096)  # part of a file, then the process dies
            fh.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        torch.save = dying_save
        checkpoint_io.atomic_save({{"format_version": 1, "model": {{"v": torch.tensor(2.0)}}}}, {str(path)!r})
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True)
    assert proc.returncode == -9
    state = load_checkpoint_file(str(path))
    assert state["model"]["v"].item() == 1.0
    leftovers = [p for p in os.listdir(tmp_path) if p != "checkpoint_last.pt"]
    assert all(p.startswith(".tmp-") for p in leftovers)


@pytest.mark.parametrize("copy", [False, True], ids=["save", "copy"])
def test_disk_full_during_save_is_one_clear_error_and_keeps_the_old_file(tmp_path, copy):
    # RLIMIT_FSIZE makes writes past the limit fail (EFBIG) as a full disk would (ENOSPC)
    path, big = tmp_path / "checkpoint_last.pt", tmp_path / "big.pt"
    atomic_save({"format_version": 1, "model": {"v": torch.tensor(1.0)}}, str(path))
    atomic_save({"format_version": 1, "model": {"v": torch.zeros(50_000)}}, str(big))
    before = path.read_bytes()
    write = (
        f"checkpoint_io.atomic_copy({str(big)!r}, {str(path)!r})"
        if copy
        else (f"checkpoint_io.atomic_save({{'model': {{'v': torch.zeros(50_000)}}}}, {str(path)!r})")
    )
    script = textwrap.dedent(f"""
        import resource, signal, torch
        from seqlab.core import SeqlabError, checkpoint_io
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))
        try:
            {write}
        except SeqlabError as exc:
            print(exc)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"could not write {path}: File too large; free some disk space")
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["big.pt", "checkpoint_last.pt"]
