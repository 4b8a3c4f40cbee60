"""batch_by_size, size filtering and collate_tokens."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from seqlab.core import SeqlabError
from seqlab.core.data import BaseDataset, batch_by_size, collate_tokens


@settings(max_examples=200, deadline=None)
@given(
    lengths=st.lists(st.integers(1, 50), min_size=0, max_size=200),
    max_tokens=st.integers(50, 400),
    max_sentences=st.one_of(st.none(), st.integers(1, 20)),
    multiple=st.integers(1, 8),
)
def test_batches_keep_order_cover_everything_and_respect_budgets(
    lengths, max_tokens, max_sentences, multiple
):
    indices = np.argsort(np.array(lengths, dtype=np.int64), kind="stable")
    lengths_arr = np.array(lengths, dtype=np.int64)
    batches = batch_by_size(
        indices,
        num_tokens_vec=lengths_arr[indices],
        max_tokens=max_tokens,
        max_sentences=max_sentences,
        required_batch_size_multiple=multiple,
    )
    flat = np.concatenate(batches) if batches else np.zeros(0, dtype=np.int64)
    assert flat.tolist() == indices.tolist()
    for b in batches:
        assert len(b) > 0
        assert len(b) * lengths_arr[b].max() <= max_tokens
        if max_sentences:
            assert len(b) <= max_sentences
    # every batch but the last is a multiple of the requested size when it could be
    for b in batches[:-1]:
        if len(b) >= multiple:
            assert len(b) % multiple == 0


def test_batch_size_alone_makes_equal_batches():
    batches = batch_by_size(np.arange(10), num_tokens_fn=lambda i: 3, max_sentences=4)
    assert [b.tolist() for b in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


def test_example_longer_than_max_tokens_names_it():
    with pytest.raises(SeqlabError, match="example 7 has 30 tokens, more than --max-tokens 20"):
        batch_by_size([5, 7], num_tokens_vec=np.array([3, 30]), max_tokens=20)


class _Sized(BaseDataset):
    def __init__(self, sizes):
        self._sizes = np.array(sizes, dtype=np.int64)

    def __len__(self):
        return len(self._sizes)

    def num_tokens(self, index):
        return int(self._sizes[index])

    def size(self, index):
        return int(self._sizes[index])

    @property
    def sizes(self):
        return self._sizes


class _Paired(_Sized):
    def size(self, index):
        return (int(self._sizes[index]), 2 * int(self._sizes[index]))

    @property
    def sizes(self):
        raise NotImplementedError


def test_filter_indices_by_size_plain_and_paired():
    ds = _Sized([1, 5, 10, 3])
    keep, ignored = ds.filter_indices_by_size(np.arange(4), 5)
    assert keep.tolist() == [0, 1, 3] and ignored.tolist() == [2]
    paired = _Paired([1, 5, 10, 3])
    keep, ignored = paired.filter_indices_by_size(np.arange(4), (8, 8))
    assert keep.tolist() == [0, 3] and ignored.tolist() == [1, 2]
    keep, _ = paired.filter_indices_by_size(np.arange(4), (None, 10))
    assert keep.tolist() == [0, 1, 3]


def test_collate_tokens_padding_sides_and_eos_shift():
    a, b = torch.tensor([5, 6, 2]), torch.tensor([7, 2])
    assert collate_tokens([a, b], pad_idx=1).tolist() == [[5, 6, 2], [7, 2, 1]]
    assert collate_tokens([a, b], pad_idx=1, left_pad=True).tolist() == [[5, 6, 2], [1, 7, 2]]
    shifted = collate_tokens([a, b], pad_idx=1, eos_idx=2, move_eos_to_beginning=True)
    assert shifted.tolist() == [[2, 5, 6], [2, 7, 1]]
    assert collate_tokens([b], pad_idx=1, pad_to_multiple=4).tolist() == [[7, 2, 1, 1]]
