"""Row 7: start-up, as the wall time of ``--help`` (and of ``python -c "import torch"``)."""

from __future__ import annotations

import sys

from . import procs
from .plan import Plan
from .report import say
from .results import Row, Target, median
from .toolkits import Toolkit


def startup_rows(plan: Plan, seq: Toolkit, fs: Toolkit | None) -> list[Row]:
    """Interleaved runs of the three commands; rows 7a (vs fairseq) and 7b (vs importing torch)."""
    commands = {"seq-train --help": [seq.tool("train"), "--help"]}
    if fs is not None:
        commands["fairseq-train --help"] = [fs.tool("train"), "--help"]
    commands["import torch"] = [sys.executable, "-c", "import torch"]
    reps = max(plan.reps, 1 if plan.quick else 5)  # cheap, so more runs than the rest
    times: dict[str, list[float]] = {name: [] for name in commands}
    names = list(commands)
    say(f"start-up: {reps} interleaved runs of {', '.join(names)} ...")
    for rep in range(-1, reps):  # -1 warms the file cache and byte-code
        for name in names[rep % len(names) :] + names[: rep % len(names)]:
            kit = fs if name.startswith("fairseq") else seq
            result = procs.run(commands[name], kit.env(plan.threads)).check()
            if rep >= 0:
                times[name].append(result.wall_s)
    say("start-up: " + ", ".join(f"{n} {median(t):.2f} s" for n, t in times.items()))
    rows = []
    a = Row("7a", "start-up: seq-train --help", "s", Target("<=", 0.5, text="≤ 0.5× fairseq"))
    a.seqlab, a.baseline = median(times["seq-train --help"]), median(times.get("fairseq-train --help", []))
    a.raw = {k: v for k, v in times.items() if k != "import torch"}
    rows.append(a)
    b = Row("7b", "start-up vs import torch", "s", Target("<=", 1.15, text="≤ 1.15× import torch"))
    b.baseline_name = "import torch"
    b.seqlab, b.baseline = a.seqlab, median(times["import torch"])
    b.raw = {"seq-train --help": times["seq-train --help"], "import torch": times["import torch"]}
    rows.append(b)
    return rows
