"""Group length-sorted example indices into mini-batches by token and sentence budgets."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ..errors import SeqlabError

_SLICE = 8192


def batch_by_size(
    indices: Sequence[int] | np.ndarray,
    num_tokens_fn: Callable[[int], int] | None = None,
    num_tokens_vec: np.ndarray | None = None,
    max_tokens: int | None = None,
    max_sentences: int | None = None,
    required_batch_size_multiple: int = 1,
) -> list[np.ndarray]:
    """Split ``indices`` (kept in order) into batches of at most ``max_tokens`` padded tokens.

    A batch costs ``len(batch) * longest example`` tokens, as padding makes it.
    A full batch is cut to a multiple of ``required_batch_size_multiple`` when it
    holds at least that many examples; the rest starts the next batch.
    """
    indices = np.asarray(indices, dtype=np.int64)
    max_tokens = int(max_tokens) if max_tokens is not None and max_tokens > 0 else 0
    max_sentences = int(max_sentences) if max_sentences is not None and max_sentences > 0 else 0
    multiple = max(int(required_batch_size_multiple), 1)
    if num_tokens_vec is None:
        if num_tokens_fn is None:
            raise ValueError("batch_by_size needs num_tokens_fn or num_tokens_vec")
        num_tokens_vec = np.fromiter((num_tokens_fn(int(i)) for i in indices), np.int64, len(indices))
    lengths = np.asarray(num_tokens_vec)
    if len(lengths) != len(indices):
        raise ValueError(f"num_tokens_vec has {len(lengths)} entries for {len(indices)} indices")
    if max_tokens and len(lengths) and lengths.max() > max_tokens:
        pos = int(np.argmax(lengths > max_tokens))
        raise SeqlabError(
            f"example {int(indices[pos])} has {int(lengths[pos])} tokens, more than --max-tokens "
            f"{max_tokens}; raise --max-tokens or lower the task's max positions so it is filtered out"
        )

    batches: list[np.ndarray] = []
    batch: list[int] = []
    batch_lengths: list[int] = []
    longest = 0

    def is_full(size: int, width: int) -> bool:
        if size == 0:
            return False
        if max_sentences and size >= max_sentences:
            return True
        return bool(max_tokens) and (size + 1) * width > max_tokens

    # Python ints are made a slice at a time: a whole corpus of them would cost ~36 bytes per example
    for lo in range(0, len(indices), _SLICE):
        for idx, n in zip(indices[lo : lo + _SLICE].tolist(), lengths[lo : lo + _SLICE].tolist()):
            while is_full(len(batch), max(longest, n)):
                take = multiple * (len(batch) // multiple) if len(batch) >= multiple else len(batch)
                batches.append(np.array(batch[:take], dtype=np.int64))
                batch, batch_lengths = batch[take:], batch_lengths[take:]
                longest = max(batch_lengths, default=0)
            batch.append(idx)
            batch_lengths.append(n)
            longest = max(longest, n)
    if batch:
        batches.append(np.array(batch, dtype=np.int64))
    return batches
