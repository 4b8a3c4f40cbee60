"""Peak RSS while reading every batch of a binarized corpus, for Multi30k (1x) and Multi30k repeated 10x.

Each corpus is binarized with seq-preprocess (sentencepiece 8000, joined
dictionary), then read in a fresh process: translation task, the epoch's batches
(--max-tokens 4096), every batch collated. The process's peak RSS (VmHWM) is the
figure; the ratio 10x / 1x is the result (the issue asks for less than 1.05).
The same reads through numpy memory maps (fairseq's reader) are shown for comparison.

    python bench/bench_data_memory.py [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MULTI30K = REPO.parent / "shared" / "data" / "multi30k"


def _rss_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def measure(data_dir: str, reader: str) -> dict[str, float]:
    """Read every batch of the train split once; return RSS figures in MiB (run in a fresh process)."""
    from seqlab.core import setup_task
    from seqlab.core.options import TASK, ToolSpec, parse

    if reader == "mmap":
        _read_through_memory_maps()
    args = parse(ToolSpec("bench", "", choices=(TASK,)), [data_dir, "--task", "translation"]).args
    task = setup_task(args)
    task.load_dataset("train")
    dataset = task.dataset("train")
    itr = task.get_batch_iterator(dataset, max_tokens=4096, max_positions=task.max_positions(), seed=1)
    after_setup = _rss_kib("VmRSS")
    start = time.perf_counter()
    batches = tokens = 0
    for batch in itr.next_epoch_itr(shuffle=True):
        batches += 1
        tokens += batch["ntokens"] + int(batch["net_input"]["src_lengths"].sum())
    return {
        "sentences": len(dataset),
        "batches": batches,
        "tokens": tokens,
        "seconds": time.perf_counter() - start,
        "rss_after_setup_mib": after_setup / 1024,
        "peak_rss_mib": _rss_kib("VmHWM") / 1024,
    }


def _read_through_memory_maps() -> None:
    """For comparison: read ids through numpy memory maps of .idx and .bin, as fairseq's reader does."""
    import numpy as np
    import torch

    from seqlab.tasks.data.indexed_dataset import IndexedDataset

    def getitem(self: IndexedDataset, index: int) -> torch.Tensor:
        if not hasattr(self, "_maps"):
            h = self.header
            pointers = np.memmap(self.prefix + ".idx", dtype="<i8", mode="r", offset=h.pointers_offset,
                                 shape=(h.num_sentences,))  # fmt: skip
            self._maps = (pointers, np.memmap(self.prefix + ".bin", dtype=h.dtype, mode="r"))
        pointers, ids = self._maps
        start = int(pointers[index])
        return torch.from_numpy(ids[start : start + int(self._sizes[index])].astype(np.int64))

    IndexedDataset.__getitem__ = getitem  # type: ignore[method-assign]


def _preprocess(raw_dir: Path, dest: Path, repeat: int) -> None:
    from seqlab.cli.preprocess import main

    for lang in ("en", "de"):
        text = (MULTI30K / f"train.{lang}").read_text(encoding="utf-8")
        (raw_dir / f"train{repeat}.{lang}").write_text(text * repeat, encoding="utf-8")
    argv = ["-s", "en", "-t", "de", "--trainpref", str(raw_dir / f"train{repeat}"), "--destdir", str(dest)]
    argv += ["--joined-dictionary", "--workers", "2"]
    if repeat == 1:
        argv += ["--bpe", "sentencepiece", "--spm-vocab-size", "8000"]
    else:  # the same model and dictionary as 1x, so only the corpus size differs
        small = dest.parent / "x1"
        argv += ["--bpe", "sentencepiece", "--spm-model", str(small / "sentencepiece.model")]
        argv += ["--srcdict", str(small / "dict.en.txt")]
    if main(argv) != 0:
        raise SystemExit(f"seq-preprocess failed for {repeat}x")


def _run_child(data_dir: Path, reader: str) -> dict[str, float]:
    cmd = [sys.executable, __file__, "--measure", str(data_dir), "--reader", reader]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    """Binarize both corpora, measure each in a fresh process, print the figures and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--measure", metavar="DIR", help=argparse.SUPPRESS)
    parser.add_argument("--reader", choices=["seqlab", "mmap"], default="seqlab", help=argparse.SUPPRESS)
    parser.add_argument("--keep", metavar="DIR", help="keep the binarized corpora in DIR")
    opts = parser.parse_args()
    if opts.measure:
        print(json.dumps(measure(opts.measure, opts.reader)))
        return
    if not MULTI30K.is_dir():
        raise SystemExit(f"needs Multi30k at {MULTI30K} (../shared/data/multi30k beside the repository)")
    work = Path(opts.keep) if opts.keep else Path(tempfile.mkdtemp(prefix="bench-data-memory-"))
    work.mkdir(parents=True, exist_ok=True)
    raw = work / "raw"
    raw.mkdir(exist_ok=True)
    for repeat in (1, 10):
        dest = work / f"x{repeat}"
        if not (dest / "train.en-de.en.idx").is_file():
            _preprocess(raw, dest, repeat)
    readers = {"seqlab": "seqlab (pread)", "mmap": "memory maps (fairseq-style)"}
    results = {(reader, r): _run_child(work / f"x{r}", reader) for reader in readers for r in (1, 10)}

    sizes = {r: sum(f.stat().st_size for f in (work / f"x{r}").glob("train.*.bin")) / 2**20 for r in (1, 10)}
    print(f"{'reader':<28} {'corpus':>6} {'sentences':>10} {'batches':>8} {'.bin MiB':>9} "
          f"{'RSS setup':>10} {'peak RSS':>9} {'read s':>7}")  # fmt: skip
    for (reader, repeat), r in results.items():
        print(
            f"{readers[reader]:<28} {repeat:>5}x {r['sentences']:>10,} {r['batches']:>8,} {sizes[repeat]:>9.1f} "
            f"{r['rss_after_setup_mib']:>9.1f}M {r['peak_rss_mib']:>8.1f}M {r['seconds']:>7.1f}"
        )
    for reader, name in readers.items():
        small, big = results[reader, 1], results[reader, 10]
        ratio = big["peak_rss_mib"] / small["peak_rss_mib"]
        print(
            f"{name}: peak RSS 10x / 1x = {ratio:.3f} ({100 * (ratio - 1):+.1f}%, "
            f"{big['peak_rss_mib'] - small['peak_rss_mib']:+.1f} MiB for {sizes[10] - sizes[1]:.1f} MiB more .bin)"
        )
    if not opts.keep:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"binarized corpora kept in {work}")


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()
