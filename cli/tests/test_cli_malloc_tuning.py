"""The inference tools keep freed memory in the process under glibc, unless the user tunes malloc."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from seqlab.cli.malloc_tuning import _glibc, user_tunes_malloc

# Allocates and touches a 24 MiB block, frees it, and prints how much of it the process still holds.
PROBE = """
import ctypes, os, sys
from seqlab.cli.malloc_tuning import keep_freed_memory
applied = keep_freed_memory() if sys.argv[1] == "tune" else False
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
def rss():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
size = 24 * 1024 * 1024
before = rss()
block = libc.malloc(size)
ctypes.memset(block, 1, size)
libc.free(block)
print(applied, (rss() - before) / size)
"""


def _probe(mode: str, **env: str) -> tuple[bool, float]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_") and k != "GLIBC_TUNABLES"}
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, mode], capture_output=True, text=True, env={**clean, **env}, check=True
    )
    applied, kept = proc.stdout.split()
    return applied == "True", float(kept)


@pytest.mark.skipif(not (_glibc() and os.path.exists("/proc/self/statm")), reason="needs glibc on Linux")
def test_freed_blocks_stay_in_the_process_only_when_tuned():
    assert _probe("plain") == (False, pytest.approx(0.0, abs=0.2))  # glibc gives the block back
    applied, kept = _probe("tune")
    assert applied and kept > 0.8  # the freed block waits for the next step's tensors
    assert _probe("tune", MALLOC_TRIM_THRESHOLD_="131072") == (False, pytest.approx(0.0, abs=0.2))


def test_the_users_malloc_settings_win():
    assert not user_tunes_malloc({"PATH": "/bin"})
    assert user_tunes_malloc({"MALLOC_ARENA_MAX": "2"})
    assert user_tunes_malloc({"GLIBC_TUNABLES": "glibc.malloc.trim_threshold=0"})
    assert not user_tunes_malloc({"GLIBC_TUNABLES": "glibc.rtld.nns=2"})
