"""GPU training speed: a transformer_wmt_en_de-sized model in bf16 under seq-train, tokens/s and MFU.

A synthetic corpus (random words, 15-40 per sentence, --vocab types) is binarized with
seq-preprocess, then ``seq-train --bf16`` runs --max-update updates on the GPU. Speed is the
median target tokens/s of the intervals logged after --skip updates; MFU is model FLOP/s
(matmuls counted from the architecture, x3 for forward and backward) over the bf16 torch.mm
rate on 8192x8192 matrices measured in the same run. The issue's target is MFU >= 40%.
``--compile`` trains with ``seq-train --compile`` (torch.compile); its warm-up updates compile,
so give it a larger --skip.

    python bench/bench_gpu.py [--max-update 60] [--max-tokens 8192] [--compile] [--json]
    python bench/bench_gpu.py --allow-cpu --max-update 4 --log-interval 2 --skip 2 --max-tokens 512   # smoke test
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from seqbench import flops, procs  # noqa: E402
from seqbench.config import Arch, default_threads, thread_env  # noqa: E402
from seqbench.logs import interval_speed, train_intervals  # noqa: E402
from seqbench.matmul_peak import measure  # noqa: E402
from seqbench.results import median  # noqa: E402

WMT_EN_DE = Arch(layers_enc=6, layers_dec=6, dim=512, ffn=2048, heads=8)


def synthetic_corpus(dest: Path, sentences: int, vocab: int, seed: int = 1) -> None:
    """Write train.en / train.de of random words, lengths 15 to 40 (WMT-like sentence lengths)."""
    rng = random.Random(seed)
    words = [f"w{i}" for i in range(vocab)]
    for lang in ("en", "de"):
        lines = (" ".join(rng.choices(words, k=rng.randint(15, 40))) for _ in range(sentences))
        (dest / f"train.{lang}").write_text("\n".join(lines) + "\n", encoding="utf-8")


def run(opts: argparse.Namespace) -> dict[str, float]:
    """Binarize, train, and return tokens/s, the matmul peak and MFU."""
    import torch

    cuda = torch.cuda.is_available()
    if not cuda and not opts.allow_cpu:
        raise SystemExit("no CUDA device (pass --allow-cpu to smoke-test the script on the CPU)")
    bin_dir = Path(sys.executable).parent
    env = thread_env(opts.threads)
    with tempfile.TemporaryDirectory(prefix="bench-gpu-") as tmp:
        work = Path(tmp)
        synthetic_corpus(work, opts.sentences, opts.vocab)
        data = work / "bin"
        prep = [str(bin_dir / "seq-preprocess"), "-s", "en", "-t", "de", f"--trainpref={work / 'train'}"]
        procs.run(prep + ["--destdir", str(data), "--joined-dictionary", "--workers", "2"], env).check()
        argv = [str(bin_dir / "seq-train"), str(data), "--task", "translation", "-s", "en", "-t", "de"]
        argv += ["--arch", "transformer_wmt_en_de", "--share-all-embeddings", "--dropout", "0.1"]
        argv += ["--optimizer", "adam", "--adam-betas", "(0.9, 0.98)", "--lr", "7e-4"]
        argv += ["--lr-scheduler", "inverse_sqrt", "--warmup-updates", "4000"]
        argv += ["--criterion", "label_smoothed_cross_entropy", "--label-smoothing", "0.1"]
        argv += ["--max-tokens", str(opts.max_tokens), "--max-update", str(opts.max_update), "--seed", "1"]
        argv += ["--log-format", "json", "--log-interval", str(opts.log_interval), "--disable-validation"]
        argv += ["--no-save", "--bf16"] + ([] if cuda else ["--cpu"])
        argv += ["--compile"] if opts.compile else []
        result = procs.run(argv, env, cwd=work).check()
        speeds = interval_speed(train_intervals(result.stdout), opts.skip)
        if not speeds:
            raise SystemExit(f"no interval logged after update {opts.skip}:\n{result.stdout[-2000:]}")
        vocab, shapes = flops.seqlab_batch_shapes(str(data), opts.max_tokens)
    per_token = flops.training_flops_per_target_token(WMT_EN_DE, vocab, shapes)
    device = "cuda" if cuda else "cpu"
    peak = measure(8192 if cuda else 1024, "bfloat16", device, 10)
    wps = median(speeds)
    return {
        "device": torch.cuda.get_device_name() if cuda else "cpu",
        "compile": opts.compile,
        "tokens_per_s": wps,
        "interval_tokens_per_s": speeds,
        "model_flops_per_token": per_token,
        "matmul_bf16_flops": peak,
        "mfu_percent": 100 * wps * per_token / peak,
        "peak_rss_mib": result.peak_rss_mib,
    }


def main() -> None:
    """Parse options, run, print a summary (or one JSON line with --json)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-update", type=int, default=60)
    parser.add_argument("--log-interval", type=int, default=10)
    parser.add_argument("--skip", type=int, default=20, help="updates not counted (warm-up)")
    parser.add_argument("--max-tokens", type=int, default=8192)
    parser.add_argument("--vocab", type=int, default=32000, help="word types of the synthetic corpus")
    parser.add_argument("--sentences", type=int, default=40000)
    parser.add_argument("--threads", type=int, default=default_threads())
    parser.add_argument("--allow-cpu", action="store_true", help="run on the CPU when there is no GPU")
    parser.add_argument("--compile", action="store_true", help="train with seq-train --compile")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON line")
    opts = parser.parse_args()
    out = run(opts)
    if opts.json:
        print(json.dumps(out))
        return
    print(
        f"transformer_wmt_en_de, bf16{', --compile' if out['compile'] else ''}, {out['device']}: {out['tokens_per_s']:,.0f} target tok/s, "
        f"{out['model_flops_per_token'] / 1e6:.0f} MFLOP/token, bf16 matmul {out['matmul_bf16_flops'] / 1e12:.1f} "
        f"TFLOP/s, MFU {out['mfu_percent']:.1f}% (target >= 40%)"
    )


if __name__ == "__main__":
    main()
