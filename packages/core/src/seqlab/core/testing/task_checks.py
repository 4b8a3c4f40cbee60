"""``check_task``: a task sets up from its options, loads a split and yields DESIGN §2 mini-batches."""

from __future__ import annotations

import copy
import os
import tempfile
from collections.abc import Sequence
from typing import Any

import torch

from ..builders import setup_task
from ..options import TASK
from ..task import Task
from ..utils import resolve_max_positions
from .failures import Check
from .round_trip import round_trip
from .tool_options import resolve_options


def check_task(
    name: str,
    argv: Sequence[str] = (),
    split: str = "train",
    max_tokens: int | None = 64,
    batch_size: int | None = None,
) -> Task:
    """Check task ``name`` with options ``argv`` (its data directory first, if it takes one).

    ``setup_task`` must give a Task with a target dictionary; ``load_dataset(split)`` a
    non-empty dataset; one epoch of ``get_batch_iterator`` (``max_tokens``/``batch_size``
    per batch) must yield every example exactly once, in mini-batches holding ``id``,
    ``nsentences``, ``ntokens``, ``net_input`` (``src_tokens``, ``src_lengths``, and
    ``prev_output_tokens`` shaped like the target when present) and ``target``, with counts
    that agree with the padding; ``state_dict()`` must survive ``torch.load(weights_only=True)``
    and rebuild, through ``setup_task_from_state`` and without the data, a task with the same
    dictionaries. Returns the task, with the split loaded.
    """
    check = Check("check_task", name)
    args = resolve_options(check, [TASK], ["--task", name, *argv])
    with check.step("setup_task"):
        task = setup_task(copy.deepcopy(args))
    check.expect(
        isinstance(task, Task), f"setup_task returned a {type(task).__name__}, not a seqlab.core.Task"
    )
    with check.step(f"load_dataset({split!r})"):
        task.load_dataset(split)
    with check.step(f"task.dataset({split!r})"):
        dataset = task.dataset(split)
    with check.step("len(dataset)"):
        size = len(dataset)
    check.expect(size > 0, f"the {split} split is empty")

    with check.step("get_batch_iterator"):
        epoch_itr = task.get_batch_iterator(
            dataset,
            max_tokens=max_tokens,
            max_sentences=batch_size,
            max_positions=resolve_max_positions(task.max_positions()),
            seed=1,
            epoch=1,
        )
        batches = list(epoch_itr.next_epoch_itr(shuffle=True))
    src_pad, tgt_pad = _pad(task.source_dictionary), _pad(task.target_dictionary)
    seen: list[int] = []
    for i, batch in enumerate(batches):
        seen += _check_batch(check, batch, i, src_pad, tgt_pad, max_tokens)
    missing = sorted(set(range(size)) - set(seen))
    check.expect(not missing, f"one epoch never yields the examples {missing[:10]}")
    check.expect(
        len(seen) == len(set(seen)) and set(seen) <= set(range(size)),
        f"one epoch yields {len(seen)} examples for {size} ids: some twice, or ids outside 0..{size - 1}",
    )

    _check_rebuilt_from_state(check, task, args)
    return task


def _check_rebuilt_from_state(check: Check, task: Task, args: Any) -> None:
    """Generation rebuilds the task from a checkpoint's ``task_state`` alone: same dictionaries."""
    state = round_trip(check, task.state_dict(), "the task's state_dict() (stored in every checkpoint)")
    with tempfile.TemporaryDirectory() as tmp:
        bare = copy.deepcopy(args)
        if hasattr(bare, "data"):
            bare.data = os.path.join(tmp, "no-data-here")  # the data must not be needed
        with check.step("setup_task_from_state(args, state) without the data directory"):
            rebuilt = type(task).setup_task_from_state(bare, state)
    for side in ("source_dictionary", "target_dictionary"):
        want, got = getattr(task, side), getattr(rebuilt, side)
        if want is None:
            continue
        check.expect(
            got is not None and _symbols(got) == _symbols(want),
            f"the task rebuilt from its state_dict() has another {side}: a checkpoint would decode ids "
            "into other words; store the dictionaries in state_dict() and restore them in "
            "setup_task_from_state/load_state_dict",
        )


def _symbols(dictionary: Any) -> list[str]:
    return [dictionary[i] for i in range(len(dictionary))]


def _pad(dictionary: Any) -> int | None:
    return dictionary.pad() if dictionary is not None else None


def _check_batch(
    check: Check, batch: Any, i: int, src_pad: int | None, tgt_pad: int | None, max_tokens: int | None
) -> list[int]:
    """Check one mini-batch against DESIGN §2 and return its example ids."""
    # counts are checked against padding only where a dictionary says which id pads
    where = f"batch {i}"
    check.expect(isinstance(batch, dict), f"{where} is a {type(batch).__name__}, not a dict")
    missing = [k for k in ("id", "nsentences", "ntokens", "net_input", "target") if k not in batch]
    check.expect(not missing, f"{where} lacks {', '.join(missing)}")
    net_input, target, ids = batch["net_input"], batch["target"], batch["id"]
    for key in ("src_tokens", "src_lengths"):
        check.expect(key in net_input, f"net_input of {where} lacks {key}")
    src, lengths = net_input["src_tokens"], net_input["src_lengths"]
    check.expect(
        torch.is_tensor(src) and src.dim() == 2 and not src.is_floating_point(),
        f"src_tokens of {where} is not a 2-D tensor of token ids",
    )
    bsz = src.size(0)
    check.expect(
        torch.is_tensor(ids) and tuple(ids.shape) == (bsz,), f"id of {where} is not a tensor of {bsz} ids"
    )
    check.expect(
        int(batch["nsentences"]) == bsz, f"nsentences of {where} is {batch['nsentences']}, not {bsz}"
    )
    check.expect(
        torch.is_tensor(lengths) and tuple(lengths.shape) == (bsz,),
        f"src_lengths of {where} is not a tensor of {bsz} lengths",
    )
    if src_pad is not None:
        check.expect(
            torch.equal(lengths.long(), src.ne(src_pad).sum(1).long()),
            f"src_lengths of {where} do not count the non-padding tokens of src_tokens",
        )
    check.expect(
        torch.is_tensor(target) and target.dim() >= 1 and target.size(0) == bsz,
        f"target of {where} does not hold one row per sentence",
    )
    if target.dim() == 2 and tgt_pad is not None:  # token-level targets: the loss's normaliser
        ntokens = int(target.ne(tgt_pad).sum())
        check.expect(
            int(batch["ntokens"]) == ntokens,
            f"ntokens of {where} is {batch['ntokens']}, but its target holds {ntokens} non-padding tokens",
        )
    prev = net_input.get("prev_output_tokens")
    if prev is not None:
        check.expect(
            tuple(prev.shape) == tuple(target.shape),
            f"prev_output_tokens of {where} has shape {tuple(prev.shape)}, the target {tuple(target.shape)}",
        )
    if max_tokens is not None and bsz > 1:
        longest = int(lengths.max())
        if target.dim() == 2 and tgt_pad is not None:
            longest = max(longest, int(target.ne(tgt_pad).sum(1).max()))
        check.expect(
            bsz * longest <= max_tokens,
            f"{where} holds {bsz} sentences of up to {longest} tokens, more than --max-tokens {max_tokens}",
        )
    return [int(x) for x in ids.tolist()]
