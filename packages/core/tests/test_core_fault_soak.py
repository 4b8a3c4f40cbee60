"""Fault soak: interrupted runs resume bit-identically, and distributed runs never hang on a lost rank.

A run killed five times and resumed each time ends bit-identical to an uninterrupted one. The
interruptions mix SIGTERM and SIGKILL sent from this process at a random moment while the run
trains, a SIGKILL right after an end-of-epoch checkpoint, and a SIGKILL in the middle of a
checkpoint write. ``SEQLAB_SOAK_SEED`` replays another draw of kill points.

With two ranks, a rank that is killed, hangs or alone gets SIGTERM ends the whole run in seconds,
and ranks whose launcher is killed save and exit.
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

from seqlab.core.checkpoint_io import load_checkpoint_file
from seqlab.core.distributed import is_peer_failure

SEED = int(os.environ.get("SEQLAB_SOAK_SEED", "9003"))
MAX_UPDATE, PER_EPOCH = 62, 12  # 96 toy examples in batches of 8; the run ends inside epoch 6
ARGS = ("--max-update", str(MAX_UPDATE), "--save-interval-updates", "5", "--log-interval", "1")
# an end-of-epoch lr step missed, or an epoch-start one repeated on resume, changes the weights
ARGS += ("--toy-epoch-shrink", "0.8", "--toy-epoch-start", "0.5")
KINDS = ("SIGTERM", "SIGKILL", "SIGKILL after epoch end", "SIGKILL inside a save")
UPDATE = re.compile(r"num_updates (\d+)")
NOT_COMPARED = {"train_wall", "save_dir"}  # wall-clock time and the folder differ by design


def plan(rng: random.Random) -> list[tuple[str, int, float]]:
    """Five interruptions: each kind once and one more signal, at increasing updates, in random order."""
    kinds = [*KINDS, rng.choice(KINDS[:2])]
    rng.shuffle(kinds)
    points = sorted(rng.sample(range(2, 44), len(kinds)))  # room left for lost work and overshoot
    return [(kind, at, rng.uniform(0.0, 0.02)) for kind, at in zip(kinds, points)]


def resume_point(save_dir: Path) -> int:
    """The update a run started in ``save_dir`` resumes from."""
    path = save_dir / "checkpoint_last.pt"
    return load_checkpoint_file(str(path))["trainer"]["num_updates"] if path.exists() else 0


def interrupt(start_train, save_dir: Path, kind: str, at: int, delay: float) -> str:
    """Start the run, interrupt it as ``kind`` says near update ``at``, wait for it to exit;
    return what happened."""
    start, env = resume_point(save_dir), {}
    at = max(at, start + 1)
    if kind == "SIGKILL after epoch end":
        at = -(-at // PER_EPOCH) * PER_EPOCH  # the toy kills itself as the update after ``at`` begins
        assert at < MAX_UPDATE, f"seed {SEED}: no epoch end left after update {start}"
        env = {"TOY_SIGNAL_AT_UPDATE": str(at), "TOY_SIGNAL": "KILL"}
    elif kind == "SIGKILL inside a save":
        env = {"TOY_KILL_IN_SAVE": str(at)}
    proc = start_train(save_dir, *ARGS, env=env)
    watchdog = threading.Timer(120, proc.kill)
    watchdog.start()
    lines, sent = [], False
    for line in proc.stdout:
        lines.append(line)
        found = UPDATE.search(line)
        if kind in KINDS[:2] and not sent and found and int(found.group(1)) >= at:
            time.sleep(delay)  # lands anywhere in a later update, its validation or its save
            proc.send_signal(getattr(signal, kind))
            sent = True
    rc = proc.wait()
    watchdog.cancel()
    out = "".join(lines)
    done = max([int(n) for n in UPDATE.findall(out)] or [start])
    last = resume_point(save_dir)
    note = f"{kind} at {at}: resumed at {start}, trained to {done}, exit {rc}, checkpoint_last at {last}"
    if kind == "SIGTERM":
        assert rc == 0 and "received SIGTERM" in out, f"{note}\n{out[-3000:]}"
    else:
        assert rc == -signal.SIGKILL, f"{note}\n{out[-3000:]}"
    if kind in KINDS[:2]:
        assert done < MAX_UPDATE, f"{note}: the run ended before the signal"
    if kind == "SIGKILL after epoch end":
        assert last == at, f"{note}: not killed right after the end-of-epoch checkpoint"
    if kind == "SIGKILL inside a save":
        assert last < done, f"{note}: the checkpoint being written is in place"
        assert any(p.name.startswith(".tmp-") for p in save_dir.iterdir()), f"{note}: no partial file"
    return note


def differences(a, b, where: str) -> list[str]:
    """Where two checkpoints (nested dicts, lists and tensors) differ, bit for bit."""
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        same = isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.dtype == b.dtype
        return [] if same and torch.equal(a, b) else [where]
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return [f"{where}: keys {sorted(a)} != {sorted(b)}"]
        return [d for k in a if k not in NOT_COMPARED for d in differences(a[k], b[k], f"{where}.{k}")]
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in differences(x, y, f"{where}[{i}]")]
    return [] if a == b else [f"{where}: {a!r} != {b!r}"]


def checkpoints(folder: Path) -> list[str]:
    """The checkpoint files in a save dir (temporaries left by a kill included)."""
    return sorted(p.name for p in folder.iterdir())


def compare(full: Path, cut: Path, names: list[str]) -> list[str]:
    """Every difference between the same checkpoints of two save dirs."""
    return [
        d
        for name in names
        for d in differences(
            load_checkpoint_file(str(full / name)), load_checkpoint_file(str(cut / name)), name
        )
    ]


@pytest.mark.slow
def test_five_kills_and_resumes_end_bit_identical_to_an_uninterrupted_run(tmp_path, train, start_train):
    full, cut = tmp_path / "full", tmp_path / "cut"
    uninterrupted = start_train(full, *ARGS)  # runs alongside the interrupted one, in its own folder
    notes = [interrupt(start_train, cut, *step) for step in plan(random.Random(SEED))]
    out = uninterrupted.communicate(timeout=300)[0]
    assert uninterrupted.returncode == 0, out
    story = f"seed {SEED}, {len(notes)} kill/resume cycles:\n  " + "\n  ".join(notes)
    final = train(cut, *ARGS)
    assert final.returncode == 0, f"{story}\n{final.stderr}"
    assert "resumed from" in final.stdout, story
    assert checkpoints(cut) == checkpoints(full), story
    diffs = compare(full, cut, checkpoints(cut))
    assert not diffs, f"{story}\ndiffering: {diffs[:20]}"
    again = train(cut, *ARGS)  # as after a kill that came once the last checkpoint was written
    assert again.returncode == 0, again.stderr
    diffs = compare(full, cut, ["checkpoint_last.pt"])
    assert not diffs, f"a finished run started again changed checkpoint_last.pt: {diffs[:20]}"
    print(f"fault soak: {story}\n  every checkpoint bit-identical to the uninterrupted run's")


TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", "-m"]
RANK_FAILS_AT = 8  # mid-epoch 2: two ranks share the 12 batches of an epoch
DISTRIBUTED = ("--max-epoch", "1000", "--log-interval", "1")  # far longer than a test waits


def seconds_to_exit(proc, after_update: int, limit: float = 180) -> tuple[float, str]:
    """Wait for a run to exit (failing the test after ``limit`` s); return the seconds from the log
    line of ``after_update`` to the exit, and the output."""
    lines, seen = [], []

    def read() -> None:
        for line in proc.stdout:
            lines.append(line)
            if not seen and re.search(rf"num_updates {after_update}\b", line):
                seen.append(time.monotonic())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        proc.wait(timeout=limit)
    except subprocess.TimeoutExpired:
        pytest.fail(f"still running {limit} s after it started:\n{''.join(lines)[-3000:]}")
    ended = time.monotonic()
    reader.join(timeout=30)
    out = "".join(lines)
    assert seen, out[-3000:]
    return ended - seen[0], out


@pytest.mark.slow
def test_a_killed_rank_stops_every_rank_with_a_message(tmp_path, start_train):
    env = {"TOY_SIGNAL_AT_UPDATE": str(RANK_FAILS_AT), "TOY_SIGNAL_RANK": "1", "TOY_SIGNAL": "KILL"}
    proc = start_train(tmp_path / "ckpt", *DISTRIBUTED, env=env, launcher=TORCHRUN)
    waited, out = seconds_to_exit(proc, RANK_FAILS_AT)
    assert proc.returncode != 0 and waited < 60, (
        f"exit {proc.returncode} {waited:.0f} s after the kill\n{out}"
    )
    assert f"rank 0 lost contact with the other ranks at update {RANK_FAILS_AT + 1}" in out, out[-3000:]
    assert "Signal 9 (SIGKILL) received by PID" in out, out[-3000:]  # torchrun names the killed rank
    resumable = load_checkpoint_file(str(tmp_path / "ckpt" / "checkpoint_last.pt"))
    assert resumable["trainer"]["num_updates"] <= RANK_FAILS_AT
    print(f"rank 1 SIGKILLed: every rank exited {waited:.1f} s later")


@pytest.mark.slow
def test_a_rank_that_stops_answering_fails_the_run_after_heartbeat_timeout(tmp_path, start_train):
    # without --heartbeat-timeout rank 0 would wait torch's default of 30 minutes in the collective
    env = {"TOY_SIGNAL_AT_UPDATE": str(RANK_FAILS_AT), "TOY_SIGNAL_RANK": "1", "TOY_SIGNAL": "HANG"}
    extra = ("--distributed-world-size", "2", "--heartbeat-timeout", "5")
    proc = start_train(tmp_path / "ckpt", *DISTRIBUTED, *extra, env=env)
    waited, out = seconds_to_exit(proc, RANK_FAILS_AT)
    assert proc.returncode == 1 and 5 <= waited < 60, (
        f"exit {proc.returncode} {waited:.0f} s after the hang\n{out}"
    )
    assert f"rank 0 lost contact with the other ranks at update {RANK_FAILS_AT + 1}" in out, out[-3000:]
    assert "seq-train: error: rank 0 of 2 exited with status 1; every rank was stopped" in out, out[-3000:]
    print(f"rank 1 hung: every rank exited {waited:.1f} s later")


@pytest.mark.slow
def test_sigterm_on_one_rank_stops_every_rank_after_the_same_update(tmp_path, start_train):
    env = {"TOY_SIGNAL_AT_UPDATE": str(RANK_FAILS_AT), "TOY_SIGNAL_RANK": "1", "TOY_SIGNAL": "TERM"}
    proc = start_train(tmp_path / "ckpt", *DISTRIBUTED, env=env, launcher=TORCHRUN)
    waited, out = seconds_to_exit(proc, RANK_FAILS_AT)
    assert proc.returncode == 0 and waited < 60, f"exit {proc.returncode} {waited:.0f} s after SIGTERM\n{out}"
    stopped = RANK_FAILS_AT + 1  # the update during which rank 1 got the signal
    assert f"saved checkpoint_last.pt at update {stopped}; run the same command to resume" in out, out
    ckpt = load_checkpoint_file(str(tmp_path / "ckpt" / "checkpoint_last.pt"))
    assert ckpt["trainer"]["num_updates"] == stopped


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds the ranks through Linux's /proc")
def test_ranks_whose_launcher_is_killed_save_and_exit(tmp_path, start_train, descendants):
    proc = start_train(tmp_path / "ckpt", *DISTRIBUTED, "--distributed-world-size", "2")
    lines: list[str] = []
    for line in proc.stdout:  # until both ranks train
        lines.append(line)
        if re.search(rf"num_updates {RANK_FAILS_AT}\b", line):
            break
    ranks = descendants(proc.pid)
    assert len(ranks) >= 2, "".join(lines)[-3000:]
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    killed = time.monotonic()
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
    reader.start()  # the ranks share the launcher's stdout: it ends when the last of them exits
    reader.join(timeout=60)
    out = "".join(lines)
    if reader.is_alive():
        for pid in ranks:  # the fixture finds processes through the launcher, which is gone
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        pytest.fail(f"ranks still running 60 s after their launcher was killed\n{out[-3000:]}")
    waited = time.monotonic() - killed
    assert f"the launcher (pid {proc.pid}) is gone: stopping at the next update" in out, out[-3000:]
    stopped = int(re.findall(r"saved checkpoint_last.pt at update (\d+)", out)[-1])
    ckpt = load_checkpoint_file(str(tmp_path / "ckpt" / "checkpoint_last.pt"))
    assert ckpt["trainer"]["num_updates"] == stopped > RANK_FAILS_AT
    print(f"launcher SIGKILLed: both ranks saved update {stopped} and exited {waited:.1f} s later")


@pytest.mark.parametrize(
    ("exc", "lost"),
    [
        (RuntimeError("[gloo/transport/tcp/pair.cc:553] Connection closed by peer [127.0.0.1]:7093"), True),
        (
            RuntimeError("[unbound_buffer.cc:78] Timed out waiting 5000ms for recv operation to complete"),
            True,
        ),
        (RuntimeError("mat1 and mat2 shapes cannot be multiplied (8x4 and 8x8)"), False),
        (ValueError("Connection closed by peer"), False),
    ],
)
def test_only_errors_about_other_ranks_count_as_lost_contact(exc, lost):
    assert is_peer_failure(exc) is lost
