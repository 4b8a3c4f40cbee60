"""Child process: the fp32 (or other dtype) torch.mm rate on square matrices, as FLOP/s on stdout.

    python -m seqbench.matmul_peak [--size 2048] [--dtype float32] [--device cpu] [--repeats 30]

The thread count is whatever OMP_NUM_THREADS says, as for the training runs it is compared with.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time


def measure(size: int, dtype: str, device: str, repeats: int) -> float:
    """Median FLOP/s of ``repeats`` timed products, after two untimed ones."""
    import torch

    a = torch.randn(size, size, dtype=getattr(torch, dtype), device=device)
    b = torch.randn(size, size, dtype=getattr(torch, dtype), device=device)
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    rates = []
    for i in range(repeats + 2):
        sync()
        start = time.perf_counter()
        torch.mm(a, b)
        sync()
        if i >= 2:
            rates.append(2 * size**3 / (time.perf_counter() - start))
    return statistics.median(rates)


def main() -> None:
    """Print ``{"flops": ..., "threads": ...}`` as one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=30)
    opts = parser.parse_args()
    import torch

    rate = measure(opts.size, opts.dtype, opts.device, opts.repeats)
    print(json.dumps({"flops": rate, "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
