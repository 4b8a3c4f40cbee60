"""Child process: the least a training loop must do, over seq-train's own model and batches.

    python -m seqbench.bare_loop DATA --max-update N --log-interval K

Builds the CONFIG-A model and criterion through seqlab's task, lists the first N batches of
epoch 1 exactly as seq-train draws them (seed 1, shuffled), and only then starts the clock:
forward, loss, backward, gradient clipping, Adam step, inverse-sqrt lr. It prints the same
``train_inner`` JSON records as ``seq-train --log-format json``, so one parser reads both.
"""

from __future__ import annotations

import argparse
import itertools
import json
import time


def batches_and_model(data: str, max_update: int) -> tuple[list, object, object, object]:
    """seq-train's args, model, criterion and its first ``max_update`` training batches."""
    from seqlab.core.builders import setup_task
    from seqlab.core.options import parse
    from seqlab.core.rng import set_seed
    from seqlab.core.train_cli import SPEC
    from seqlab.core.utils import resolve_max_positions

    from .config import COMMON_TRAIN_FLAGS

    args = parse(SPEC, [data, *COMMON_TRAIN_FLAGS, "--max-update", str(max_update)]).args
    set_seed(args.seed)
    task = setup_task(args)
    model = task.build_model(args)
    criterion = task.build_criterion(args)
    task.load_dataset(args.train_subset, epoch=1)
    itr = task.get_batch_iterator(
        dataset=task.dataset(args.train_subset),
        max_tokens=args.max_tokens,
        max_sentences=args.batch_size,
        max_positions=resolve_max_positions(task.max_positions(), model.max_positions()),
        required_batch_size_multiple=args.required_batch_size_multiple,
        seed=args.seed,
        num_workers=0,
        epoch=1,
    )
    batches = list(itertools.islice(itr.next_epoch_itr(shuffle=True), max_update))
    return batches, model, criterion, args


def train(
    batches: list, model, criterion, log_interval: int, warmup: int = 1000, peak_lr: float = 5e-4
) -> None:
    """Run one update per batch and print a record every ``log_interval`` updates."""
    import torch

    params = [p for p in model.parameters() if p.requires_grad]
    # torch's fastest Adam on this device (fused, as seqlab picks it): the row is about what the
    # framework adds around the same kernels, not about torch's slower per-tensor default
    fused = all(p.device.type in ("cpu", "cuda") for p in params)
    optimizer = torch.optim.AdamW(
        params,
        lr=peak_lr,
        betas=(0.9, 0.98),
        eps=1e-8,
        weight_decay=0.0,
        **({"fused": True} if fused else {}),
    )
    model.train()
    criterion.train()
    tokens, start = 0.0, time.perf_counter()
    for update, sample in enumerate(batches, start=1):
        for group in optimizer.param_groups:  # inverse square root with linear warm-up
            group["lr"] = peak_lr * min(update / warmup, (warmup / update) ** 0.5)
        optimizer.zero_grad(set_to_none=True)
        loss, sample_size, _ = criterion(model, sample)
        (loss / sample_size).backward()
        torch.nn.utils.clip_grad_norm_(
            params, max_norm=float("inf"), foreach=True
        )  # the norm both trainers log
        optimizer.step()
        tokens += float(sample["ntokens"])
        if update % log_interval == 0:
            elapsed = time.perf_counter() - start
            record = {"tag": "train_inner", "num_updates": update, "wps": tokens / elapsed}
            record["wpb"] = tokens / log_interval
            print(json.dumps(record), flush=True)
            tokens, start = 0.0, time.perf_counter()


def main() -> None:
    """Parse the command line, list the batches, then time the loop."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data")
    parser.add_argument("--max-update", type=int, required=True)
    parser.add_argument("--log-interval", type=int, default=10)
    opts = parser.parse_args()
    batches, model, criterion, _ = batches_and_model(opts.data, opts.max_update)
    train(batches, model, criterion, opts.log_interval)


if __name__ == "__main__":
    main()
