"""How much to run: repetitions, updates, warm-up, and which rows; set once from the command line."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Plan:
    """The shape of one bench invocation."""

    rows: frozenset[str]  # row numbers asked for ("1", "2", ...); a number selects its sub-rows too
    threads: int
    reps: int  # measured runs per configuration, interleaved
    warmup: bool  # one unmeasured run of each configuration first
    max_update: int  # updates per measured training run
    log_interval: int
    skip_updates: int  # intervals ending at or before this update are warm-up, not counted
    work: Path  # this invocation's scratch folder (checkpoints, logs)
    quick: bool
    long: bool
    budget_min: float  # wall-clock budget of each toolkit for row 9
    bf16: bool  # run row 1b (seq-train --bf16)
    bf16_why: str  # why row 1b is or is not run
    keep_work: bool = False  # keep the work folder, row 3's and row 9's models included
    models_from: Path | None = None  # an earlier run's kept work folder: row 5b on its row-3 models

    def wants(self, *numbers: str) -> bool:
        """Whether any of these rows was asked for."""
        return any(n in self.rows for n in numbers)
