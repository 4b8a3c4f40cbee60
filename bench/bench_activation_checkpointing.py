"""Memory and time of training steps with and without --checkpoint-activations.

A transformer (transformer_wmt_en_de by default: 6+6 layers, d=512, ffn 2048) with an
8,000-word dictionary takes forward and backward passes on random batches of about
``--tokens`` target tokens, in a fresh process per run (runs of the two modes interleaved).
Each run reports the median step time after a warm-up step and the peak RSS (VmHWM) above
the RSS once the model is built: the memory the steps themselves need. The ratios,
checkpointed / plain, are the result.

    python bench/bench_activation_checkpointing.py [--arch A] [--tokens N] [--steps N] [--reps N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time


def _rss_mib(field: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def run(arch: str, tokens: int, steps: int, checkpointed: bool) -> dict[str, float]:
    """Build the model and time ``steps`` training steps after a warm-up (in this process)."""
    import torch
    import torch.nn.functional as F

    from seqlab.core.builders import build_model
    from seqlab.core.registry import resolve_architecture
    from seqlab.core.testing.dummy_task import DummyTask, dummy_dictionary

    torch.manual_seed(0)
    args = argparse.Namespace(arch=arch, checkpoint_activations=checkpointed, share_all_embeddings=True)
    resolve_architecture(arch)[0].obj(args)
    words = dummy_dictionary(8000)
    model = build_model(args, DummyTask(source_dictionary=words, target_dictionary=words)).train()
    length, bsz = 32, max(1, tokens // 32)
    src = torch.randint(4, 8000, (bsz, length))
    prev = torch.randint(4, 8000, (bsz, length))
    target = torch.randint(4, 8000, (bsz * length,))
    built = _rss_mib("VmRSS")
    times = []
    for step in range(steps + 1):
        start = time.perf_counter()
        logits, _ = model(src, None, prev)
        F.cross_entropy(logits.view(-1, logits.size(-1)), target).backward()
        model.zero_grad(set_to_none=True)
        if step:  # the first step warms up
            times.append(time.perf_counter() - start)
    return {"step_s": statistics.median(times), "step_mib": _rss_mib("VmHWM") - built}


def main() -> None:
    """Interleave fresh-process runs of both modes and print their figures and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="transformer_wmt_en_de")
    parser.add_argument("--tokens", type=int, default=4096)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--child", choices=["plain", "checkpointed"], help=argparse.SUPPRESS)
    a = parser.parse_args()
    if a.child:
        print(json.dumps(run(a.arch, a.tokens, a.steps, a.child == "checkpointed")))
        return
    results: dict[str, list[dict[str, float]]] = {"plain": [], "checkpointed": []}
    for rep in range(a.reps):
        for mode in results:
            cmd = [sys.executable, __file__, "--child", mode, "--arch", a.arch]
            cmd += ["--tokens", str(a.tokens), "--steps", str(a.steps)]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
            results[mode].append(json.loads(out.strip().splitlines()[-1]))
            r = results[mode][-1]
            print(
                f"run {rep + 1} {mode:>12}: {r['step_s']:.2f} s a step, {r['step_mib']:,.0f} MiB for the steps"
            )
    med = {
        m: {k: statistics.median(r[k] for r in rs) for k in ("step_s", "step_mib")}
        for m, rs in results.items()
    }
    print(
        f"{a.arch}, about {a.tokens} tokens a batch: checkpointed / plain = "
        f"{med['checkpointed']['step_mib'] / med['plain']['step_mib']:.2f}x the step memory, "
        f"{med['checkpointed']['step_s'] / med['plain']['step_s']:.2f}x the step time"
    )


if __name__ == "__main__":
    main()
