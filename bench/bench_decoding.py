"""Benchmark: incremental decoding with the key/value cache against recomputing the prefix.

Both runs decode the same random model for the same number of steps, reordering the
batch every step as beam search does; the report is the speed-up of the cache over the
baseline, measured in this one process::

    python bench/bench_decoding.py --arch transformer --steps 64
    python bench/bench_decoding.py --device cuda --dtype bfloat16
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch

import seqlab.models.lstm  # noqa: F401  (registers the archs without entry points)
import seqlab.models.transformer  # noqa: F401
import seqlab.models.transformer_lm  # noqa: F401
from seqlab.core import build_model
from seqlab.core.registry import resolve_architecture


class _Dictionary:
    def __init__(self, size: int) -> None:
        self.size = size

    def __len__(self) -> int:
        return self.size

    def pad(self) -> int:
        return 1

    def eos(self) -> int:
        return 2


class _Task:
    def __init__(self, size: int) -> None:
        self.source_dictionary = self.target_dictionary = _Dictionary(size)


def _decode(model: torch.nn.Module, src: torch.Tensor, steps: int, cached: bool) -> torch.Tensor:
    bsz = src.size(0)
    lm = not hasattr(model, "encoder")
    encoder_out = None if lm else model.encoder(src)
    tokens = torch.full((bsz, 1), 2, dtype=torch.long, device=src.device)
    state: dict | None = {} if cached else None
    rng = torch.Generator(device=src.device).manual_seed(0)  # both runs reorder alike
    for step in range(steps):
        if step:
            order = torch.randperm(bsz, device=src.device, generator=rng)
            tokens = tokens[order]
            if state is not None:
                model.decoder.reorder_incremental_state(state, order)
            if encoder_out is not None:
                encoder_out = model.encoder.reorder_encoder_out(encoder_out, order)
        logits, _ = model.decoder(tokens, encoder_out=encoder_out, incremental_state=state)
        best = logits[:, -1].argmax(-1, keepdim=True).clamp(min=4)
        tokens = torch.cat([tokens, best], dim=1)
    return tokens


def _time(fn: Callable[[], object], device: torch.device, repeats: int) -> float:
    fn()  # warm up
    best = float("inf")
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    """Run the benchmark and print one line per configuration."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="transformer")
    parser.add_argument("--vocab", type=int, default=8000)
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--src-len", type=int, default=30)
    parser.add_argument("--steps", type=int, default=48)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    opts = parser.parse_args()

    device, dtype = torch.device(opts.device), getattr(torch, opts.dtype)
    args = argparse.Namespace(arch=opts.arch)
    resolve_architecture(opts.arch)[0].obj(args)
    torch.manual_seed(0)
    model = build_model(args, _Task(opts.vocab)).to(device=device, dtype=dtype).eval()
    src = torch.randint(4, opts.vocab, (opts.batch, opts.src_len), device=device)
    with torch.inference_mode():
        same = torch.equal(_decode(model, src, 8, True), _decode(model, src, 8, False))
        cached = _time(lambda: _decode(model, src, opts.steps, True), device, opts.repeats)
        baseline = _time(lambda: _decode(model, src, opts.steps, False), device, opts.repeats)
    print(
        f"{opts.arch} {opts.dtype} on {device}: {opts.steps} steps x {opts.batch} rows: "
        f"cached {cached * 1e3:.1f} ms, recompute {baseline * 1e3:.1f} ms, "
        f"speed-up x{baseline / cached:.2f} (same tokens on 8 steps: {same})"
    )


if __name__ == "__main__":
    main()
