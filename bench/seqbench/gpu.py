"""Row 10: the GPU figure from bench/bench_gpu.py, or a note that there is no CUDA device."""

from __future__ import annotations

import json
import sys

from . import procs
from .plan import Plan
from .report import step
from .results import Row, Target
from .toolkits import BENCH_DIR

MEASURE = "GPU: transformer_wmt_en_de, bf16, MFU"


def gpu_row(plan: Plan) -> Row:
    """Run bench_gpu.py when CUDA is there; its MFU is the row's seqlab figure."""
    import torch

    row = Row("10", MEASURE, "%", Target(">=", 40.0, on="seqlab", text="≥ 40% MFU"), baseline_name="—")
    if not torch.cuda.is_available():
        row.note = "skipped (no CUDA)"
        return row
    argv = [sys.executable, str(BENCH_DIR / "bench_gpu.py"), "--json"]
    if plan.quick:
        argv += ["--max-update", "30", "--skip", "10"]
    with step("GPU row: bench_gpu.py"):
        result = procs.run(argv, log=plan.work / "logs" / "gpu").check()
    out = json.loads(result.stdout.strip().splitlines()[-1])
    row.seqlab = out["mfu_percent"]
    row.raw = {
        "tok/s per interval": out["interval_tokens_per_s"],
        "bf16 matmul TFLOP/s": [out["matmul_bf16_flops"] / 1e12],
    }
    row.note = f"{out['device']}: {out['tokens_per_s']:,.0f} tok/s"
    return row
