"""In-place row reordering: only changed rows are copied, and only when that is the cheaper way."""

from __future__ import annotations

import torch

from seqlab.models.modules.row_reorder import reorder_rows_in_place


def test_changed_rows_are_copied_even_when_their_sources_move_too():
    keys = torch.randn(6, 2, 4, 3)
    values = torch.randn(6, 2, 4, 3)[:, :, :2]  # a strided view, as a cache's filled prefix is
    want_k, want_v = keys.clone(), values.clone()
    order = torch.tensor([0, 2, 1, 3, 4, 1])  # 1 and 2 swap; row 5 takes row 1's old content
    assert reorder_rows_in_place((keys, values), order)
    assert torch.equal(keys, want_k[order]) and torch.equal(values, want_v[order])


def test_a_shorter_order_keeps_its_rows_at_the_front():
    rows = torch.randn(8, 5)
    want = rows.clone()
    order = torch.tensor([0, 7, 2, 3, 6])  # sentences 1 and 4 left; the last ones fill their places
    assert reorder_rows_in_place((rows,), order)
    assert torch.equal(rows[:5], want[order])
    assert torch.equal(rows[5:], want[5:])


def test_a_reorder_moving_most_rows_is_left_to_a_full_gather():
    rows = torch.randn(4, 3)
    want = rows.clone()
    assert not reorder_rows_in_place((rows,), torch.tensor([1, 2, 3, 0]))
    assert torch.equal(rows, want)
