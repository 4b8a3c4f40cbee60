"""Epoch batch iterators: shuffled per epoch, sharded across workers, resumable mid-epoch."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import numpy as np
import torch.utils.data

from ..errors import SeqlabError
from .sharding import shard_batches, shard_count
from .worker_dataset import BatchFetcher, identity

logger = logging.getLogger(__name__)

BatchSampler = Sequence[np.ndarray] | Callable[[Any, int], Sequence[np.ndarray]]


class CountingIterator:
    """Wraps an iterable and counts the items taken; ``n`` starts at ``start`` when resuming."""

    def __init__(self, iterable: Iterable[Any], start: int = 0, total: int | None = None) -> None:
        self._iterable = iterable
        self._itr: Iterator[Any] | None = None
        self.n = start
        self.total = total if total is not None else start + len(iterable)  # type: ignore[arg-type]

    def __len__(self) -> int:
        return self.total

    def __iter__(self) -> CountingIterator:
        return self

    def __next__(self) -> Any:
        if not self.has_next():
            raise StopIteration
        if self._itr is None:
            # created on first use, so data-loader workers start only when reading starts
            self._itr = iter(self._iterable)
        try:
            item = next(self._itr)
        except StopIteration:
            raise SeqlabError(
                f"the batch iterator ended after {self.n} of {self.total} batches; "
                "the dataset changed while it was being read"
            ) from None
        self.n += 1
        return item

    def has_next(self) -> bool:
        """Whether another item remains."""
        return self.n < self.total

    def skip(self, count: int) -> CountingIterator:
        """Consume and drop the next ``count`` items."""
        for _ in range(count):
            next(self)
        return self

    def take(self, count: int) -> CountingIterator:
        """Stop after ``count`` items in all (counting from the epoch's start)."""
        self.total = min(self.total, count)
        return self


class GroupedIterator(CountingIterator):
    """Yields lists of ``chunk_size`` consecutive items (the micro-batches of one update)."""

    def __init__(
        self, iterable: CountingIterator, chunk_size: int, skip_remainder_batch: bool = False
    ) -> None:
        groups = (
            len(iterable) // chunk_size if skip_remainder_batch else math.ceil(len(iterable) / chunk_size)
        )
        start = math.ceil(getattr(iterable, "n", 0) / chunk_size)
        super().__init__(self._chunks(iterable, chunk_size), start=start, total=groups)
        self.chunk_size = chunk_size

    @staticmethod
    def _chunks(iterable: Iterable[Any], size: int) -> Iterator[list[Any]]:
        chunk: list[Any] = []
        for item in iterable:
            chunk.append(item)
            if len(chunk) == size:
                yield chunk
                chunk = []
        if chunk:
            yield chunk


class EpochBatchIterator:
    """Iterates over a dataset's batches epoch after epoch, like fairseq's ``EpochBatchIterator``.

    The batches of an epoch are shuffled with ``seed + epoch``, then dealt out to
    ``num_shards`` shards with equal counts; :meth:`state_dict` records the position
    so that :meth:`load_state_dict` resumes at the next batch of the same epoch.
    """

    def __init__(
        self,
        dataset: Any,
        collate_fn: Callable[[list[Any]], Any],
        batch_sampler: BatchSampler,
        seed: int = 1,
        num_shards: int = 1,
        shard_id: int = 0,
        num_workers: int = 0,
        epoch: int = 1,
        buffer_size: int = 0,
        timeout: int = 0,
        disable_shuffling: bool = False,
        skip_remainder_batch: bool = False,
    ) -> None:
        if num_shards < 1 or not 0 <= shard_id < num_shards:
            raise SeqlabError(f"shard_id {shard_id} is not in [0, {num_shards}); check the distributed rank")
        self.dataset = dataset
        self.collate_fn = collate_fn
        self.batch_sampler = batch_sampler
        self._frozen_batches: tuple[np.ndarray, ...] | None = (
            None if callable(batch_sampler) else tuple(batch_sampler)
        )
        self.seed = seed
        self.num_shards = num_shards
        self.shard_id = shard_id
        self.num_workers = num_workers
        self.buffer_size = buffer_size
        self.timeout = timeout
        self.disable_shuffling = disable_shuffling
        self.skip_remainder_batch = skip_remainder_batch
        self.epoch = max(epoch, 1)
        self.shuffle = not disable_shuffling
        self._cur_epoch_itr: CountingIterator | None = None
        self._next_epoch_itr: CountingIterator | None = None

    @property
    def frozen_batches(self) -> tuple[np.ndarray, ...]:
        """This epoch's batches before shuffling and sharding."""
        if self._frozen_batches is None:
            assert callable(self.batch_sampler)
            self._frozen_batches = tuple(self.batch_sampler(self.dataset, self.epoch))
        return self._frozen_batches

    def __len__(self) -> int:
        count = shard_count(len(self.frozen_batches), self.num_shards)
        return max(count - 1, 0) if self.skip_remainder_batch else count

    @property
    def first_batch(self) -> Any:
        """The first batch, collated (the trainer's template for dummy steps)."""
        if not self.frozen_batches:
            raise SeqlabError(
                "the dataset yields no batches: it is empty or every example was filtered out by size"
            )
        return self.collate_fn([self.dataset[int(i)] for i in self.frozen_batches[0]])

    @property
    def next_epoch_idx(self) -> int:
        """The epoch the next call to :meth:`next_epoch_itr` will iterate."""
        if self._next_epoch_itr is not None:
            return self.epoch
        if self._cur_epoch_itr is not None and self.end_of_epoch():
            return self.epoch + 1
        return self.epoch

    def next_epoch_itr(
        self, shuffle: bool = True, fix_batches_to_gpus: bool = False, set_dataset_epoch: bool = True
    ) -> CountingIterator:
        """Return the iterator over the next epoch's batches (or the resumed rest of this one)."""
        if self.disable_shuffling:
            shuffle = False
        prev_epoch = self.epoch
        self.epoch = self.next_epoch_idx
        if set_dataset_epoch and hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(self.epoch)
        if self._next_epoch_itr is not None:
            self._cur_epoch_itr, self._next_epoch_itr = self._next_epoch_itr, None
        else:
            if callable(self.batch_sampler) and prev_epoch != self.epoch:
                self._frozen_batches = None  # batches that depend on the epoch are made again
            self._cur_epoch_itr = self._iterator_for_epoch(self.epoch, shuffle, fix_batches_to_gpus)
            self.shuffle = shuffle
        return self._cur_epoch_itr

    def end_of_epoch(self) -> bool:
        """Whether the current epoch's iterator is used up."""
        return self._cur_epoch_itr is not None and not self._cur_epoch_itr.has_next()

    @property
    def iterations_in_epoch(self) -> int:
        """How many batches of the current epoch have been taken."""
        if self._cur_epoch_itr is not None:
            return self._cur_epoch_itr.n
        if self._next_epoch_itr is not None:
            return self._next_epoch_itr.n
        return 0

    def state_dict(self) -> dict[str, Any]:
        """The position to resume from: the epoch and how many of its batches were taken."""
        if self.end_of_epoch():
            epoch, position = self.epoch + 1, 0
        else:
            epoch, position = self.epoch, self.iterations_in_epoch
        return {
            "version": 2,
            "epoch": epoch,
            "iterations_in_epoch": position,
            "shuffle": self.shuffle,
            "num_shards": self.num_shards,
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Resume at a position from :meth:`state_dict`: the next batch is the first not yet taken."""
        self.epoch = int(state_dict["epoch"])
        position = int(state_dict.get("iterations_in_epoch", 0))
        self.shuffle = bool(state_dict.get("shuffle", True)) and not self.disable_shuffling
        saved_shards = int(state_dict.get("num_shards", self.num_shards))
        if saved_shards != self.num_shards and position > 0:
            # the epoch's shuffled order is the same; skip what all the old shards took together
            new_position = position * saved_shards // self.num_shards
            logger.info(
                "resuming with %d shards instead of %d: skipping %d batches of this shard",
                self.num_shards,
                saved_shards,
                new_position,
            )
            position = new_position
        self._cur_epoch_itr = None
        self._next_epoch_itr = None
        if position > 0:
            if callable(self.batch_sampler):
                self._frozen_batches = None
            itr = self._iterator_for_epoch(self.epoch, self.shuffle, offset=position)
            if itr is None:
                raise SeqlabError(
                    f"cannot resume at batch {position} of epoch {self.epoch}: this epoch has only "
                    f"{len(self)} batches per shard; the data or the batching options changed "
                    "since the state was saved"
                )
            self._next_epoch_itr = itr

    def _epoch_batches(self, epoch: int, shuffle: bool, fix_batches_to_gpus: bool) -> list[np.ndarray]:
        batches = list(self.frozen_batches)
        if shuffle and not fix_batches_to_gpus:
            batches = _shuffled(batches, self.seed + epoch)
        batches = shard_batches(batches, self.num_shards, self.shard_id)
        if shuffle and fix_batches_to_gpus:
            batches = _shuffled(batches, self.seed + epoch + self.shard_id)
        if self.skip_remainder_batch and batches:
            batches = batches[:-1]
        return batches

    def _iterator_for_epoch(
        self, epoch: int, shuffle: bool, fix_batches_to_gpus: bool = False, offset: int = 0
    ) -> CountingIterator | None:
        batches = self._epoch_batches(epoch, shuffle, fix_batches_to_gpus)
        if offset > 0 and offset >= len(batches):
            return None
        remaining = batches[offset:]
        if self.num_workers > 0:
            loader: Iterable[Any] = torch.utils.data.DataLoader(
                BatchFetcher(self.dataset, self.collate_fn),
                batch_size=None,
                sampler=remaining,
                collate_fn=identity,
                num_workers=self.num_workers,
                timeout=self.timeout,
                prefetch_factor=self.buffer_size if self.buffer_size > 0 else None,
            )
        else:
            loader = _SerialLoader(self.dataset, self.collate_fn, remaining)
        return CountingIterator(loader, start=offset, total=len(batches))


class _SerialLoader:
    """Reads and collates batches in this process (``num_workers=0``)."""

    def __init__(self, dataset: Any, collate_fn: Callable[[list[Any]], Any], batches: list[np.ndarray]):
        self.dataset, self.collate_fn, self.batches = dataset, collate_fn, batches

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self) -> Iterator[Any]:
        for batch in self.batches:
            yield self.collate_fn([self.dataset[int(i)] for i in batch])


def _shuffled(batches: list[np.ndarray], seed: int) -> list[np.ndarray]:
    order = np.random.RandomState(seed % 2**32).permutation(len(batches))
    return [batches[i] for i in order]
