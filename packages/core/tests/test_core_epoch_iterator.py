"""The epoch batch iterator: per-epoch shuffling, equal shards, and resuming mid-epoch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from seqlab.core import SeqlabError
from seqlab.core.data import BaseDataset, EpochBatchIterator, GroupedIterator
from seqlab.core.task import Task


class ToyDataset(BaseDataset):
    """Example i is ``sizes[i]`` copies of i; a batch is the sorted ids it holds."""

    def __init__(self, n: int, seed: int = 0) -> None:
        self._sizes = np.random.RandomState(seed).randint(1, 20, size=n).astype(np.int64)

    def __getitem__(self, index):
        return {"id": index, "tokens": torch.full((int(self._sizes[index]),), index)}

    def __len__(self):
        return len(self._sizes)

    def collater(self, samples):
        if not samples:
            return {}
        return {"id": torch.tensor([s["id"] for s in samples])}

    def num_tokens(self, index):
        return int(self._sizes[index])

    def num_tokens_vec(self, indices):
        return self._sizes[indices]

    def size(self, index):
        return int(self._sizes[index])

    @property
    def sizes(self):
        return self._sizes

    def ordered_indices(self):
        return np.argsort(self._sizes, kind="mergesort")


def _ids(batch):
    return tuple(batch["id"].tolist()) if batch else ()


def _make(dataset, num_shards=1, shard_id=0, num_workers=0, seed=3):
    batches = dataset.batch_by_size(dataset.ordered_indices(), max_tokens=40)
    return EpochBatchIterator(
        dataset,
        dataset.collater,
        batches,
        seed=seed,
        num_shards=num_shards,
        shard_id=shard_id,
        num_workers=num_workers,
    )


@pytest.mark.parametrize("num_shards", [1, 2])
def test_resume_after_k_batches_yields_exactly_the_rest(num_shards):
    dataset = ToyDataset(101)
    for shard_id in range(num_shards):
        full = [_ids(b) for b in _make(dataset, num_shards, shard_id).next_epoch_itr()]
        assert len(full) > 10
        for k in [0, 1, 2, 5, len(full) // 2, len(full) - 1]:
            first = _make(dataset, num_shards, shard_id)
            itr = first.next_epoch_itr()
            taken = [_ids(next(itr)) for _ in range(k)]
            state = first.state_dict()
            assert state["epoch"] == 1 and state["iterations_in_epoch"] == k

            resumed = _make(dataset, num_shards, shard_id)
            resumed.load_state_dict(state)
            assert resumed.iterations_in_epoch == k
            rest_itr = resumed.next_epoch_itr()
            rest = [_ids(b) for b in rest_itr]
            assert rest == full[k:]
            assert taken + rest == full
            assert resumed.end_of_epoch()
            assert resumed.state_dict()["epoch"] == 2


def test_state_at_end_of_epoch_resumes_at_the_next_epoch():
    dataset = ToyDataset(60)
    reference = _make(dataset)
    epoch1 = [_ids(b) for b in reference.next_epoch_itr()]
    epoch2 = [_ids(b) for b in reference.next_epoch_itr()]
    assert reference.epoch == 2
    assert epoch1 != epoch2 and sorted(epoch1) == sorted(epoch2)

    first = _make(dataset)
    list(first.next_epoch_itr())
    state = first.state_dict()
    assert (state["epoch"], state["iterations_in_epoch"]) == (2, 0)
    resumed = _make(dataset)
    resumed.load_state_dict(state)
    assert [_ids(b) for b in resumed.next_epoch_itr()] == epoch2


def test_shards_are_disjoint_equal_and_cover_the_epoch():
    dataset = ToyDataset(97)
    all_batches = [_ids(b) for b in _make(dataset).next_epoch_itr()]
    for num_shards in [2, 3]:
        per_shard = [
            [_ids(b) for b in _make(dataset, num_shards, s).next_epoch_itr()] for s in range(num_shards)
        ]
        assert len({len(p) for p in per_shard}) == 1
        real = [b for p in per_shard for b in p if b]
        assert sorted(real) == sorted(all_batches)
        ids = [i for b in real for i in b]
        assert len(ids) == len(set(ids)) == len(dataset)


def test_same_seed_and_epoch_give_the_same_order_other_seeds_differ():
    dataset = ToyDataset(80)
    a = [_ids(b) for b in _make(dataset, seed=1).next_epoch_itr()]
    b = [_ids(b) for b in _make(dataset, seed=1).next_epoch_itr()]
    c = [_ids(b) for b in _make(dataset, seed=2).next_epoch_itr()]
    assert a == b and a != c


def test_loader_processes_give_the_same_batches_and_resume():
    dataset = ToyDataset(50)
    serial = [_ids(b) for b in _make(dataset).next_epoch_itr()]
    first = _make(dataset, num_workers=2)
    itr = first.next_epoch_itr()
    taken = [_ids(next(itr)) for _ in range(3)]
    state = first.state_dict()
    del itr
    resumed = _make(dataset, num_workers=2)
    resumed.load_state_dict(state)
    assert taken + [_ids(b) for b in resumed.next_epoch_itr()] == serial


def test_changing_the_shard_count_skips_what_was_consumed_globally():
    dataset = ToyDataset(90)
    two = [_make(dataset, 2, s) for s in range(2)]
    iters = [t.next_epoch_itr() for t in two]
    consumed = [_ids(next(it)) for _ in range(4) for it in iters]
    one = _make(dataset)
    one.load_state_dict(two[0].state_dict())
    rest = [_ids(b) for b in one.next_epoch_itr()]
    assert not set(consumed) & set(rest)
    full = [_ids(b) for b in _make(dataset).next_epoch_itr()]
    assert sorted(consumed + rest) == sorted(full)


def test_resume_past_the_end_is_a_clear_error():
    dataset = ToyDataset(30)
    itr = _make(dataset)
    with pytest.raises(SeqlabError, match="cannot resume at batch 999 of epoch 1"):
        itr.load_state_dict({"epoch": 1, "iterations_in_epoch": 999})


def test_grouped_iterator_groups_micro_batches():
    dataset = ToyDataset(40)
    itr = _make(dataset).next_epoch_itr()
    n = len(itr)
    groups = list(GroupedIterator(itr, 3))
    assert len(groups) == -(-n // 3)
    assert all(len(g) == 3 for g in groups[:-1])


class _ToyTask(Task):
    pass


def test_task_get_batch_iterator_filters_batches_and_shards():
    dataset = ToyDataset(70)
    task = _ToyTask(None)
    with pytest.raises(SeqlabError, match=r"example \d+ has size \d+, more than the max positions 15"):
        task.get_batch_iterator(dataset, max_tokens=40, max_positions=15)
    epoch_itr = task.get_batch_iterator(
        dataset, max_tokens=40, max_positions=15, ignore_invalid_inputs=True, num_shards=2, shard_id=1
    )
    seen = [i for b in epoch_itr.next_epoch_itr() for i in _ids(b)]
    assert seen and all(dataset.size(i) <= 15 for i in seen)
    assert len(epoch_itr) == len(list(epoch_itr.next_epoch_itr()))
