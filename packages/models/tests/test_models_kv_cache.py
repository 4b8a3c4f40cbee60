"""The incremental key/value cache: appends copy nothing of the past, growth doubles, reorder selects."""

from __future__ import annotations

import torch

from seqlab.models.modules import KVCache, SelfAttention


def _step(bsz: int, length: int = 1, heads: int = 2, dim: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.randn(bsz, heads, length, dim), torch.randn(bsz, heads, length, dim)


def test_appends_return_every_position_so_far():
    cache = KVCache()
    keys, values = [], []
    for length in (5, 1, 1, 30, 1):
        k, v = _step(3, length)
        keys.append(k)
        values.append(v)
        got_k, got_v = cache.append(k, v)
        assert torch.equal(got_k, torch.cat(keys, dim=2)) and torch.equal(got_v, torch.cat(values, dim=2))
    assert cache.length == 38


def test_growth_doubles_so_the_past_is_copied_only_at_reallocation():
    cache = KVCache()
    pointers, capacities = [], []
    for _ in range(100):
        cache.append(*_step(2))
        pointers.append(cache.keys.data_ptr())
        capacities.append(cache.capacity)
    reallocations = sum(a != b for a, b in zip(pointers, pointers[1:]))
    assert sorted(set(capacities)) == [16, 32, 64, 128]
    assert reallocations == 3  # 100 steps, three copies of the past


def test_reorder_selects_rows_and_decoding_goes_on():
    cache = KVCache()
    k0, v0 = _step(4, 3)
    cache.append(k0, v0)
    order = torch.tensor([2, 2, 0])
    cache.reorder(order)
    k1, v1 = _step(3)
    got_k, got_v = cache.append(k1, v1)
    assert torch.equal(got_k, torch.cat([k0[order], k1], dim=2))
    assert torch.equal(got_v, torch.cat([v0[order], v1], dim=2))


def test_self_attention_keeps_its_buffer_between_steps():
    torch.manual_seed(0)
    attn = SelfAttention(8, 2).eval()
    state: dict = {}
    x = torch.randn(2, 20, 8)
    pointers = []
    with torch.no_grad():
        full = attn(x, is_causal=True)
        steps = []
        for t in range(20):
            steps.append(attn(x[:, t : t + 1], incremental_state=state))
            pointers.append(attn.get_incremental_state(state, "kv")["cache"].keys.data_ptr())
    torch.testing.assert_close(torch.cat(steps, dim=1), full, atol=1e-6, rtol=0)
    assert len(set(pointers[:16])) == 1 and len(set(pointers[16:])) == 1  # one reallocation, at 16


def test_repeated_reorders_recycle_two_buffers_and_keep_every_row_right():
    torch.manual_seed(0)
    cache = KVCache()
    reference_k = torch.empty(6, 2, 0, 3)
    reference_v = torch.empty(6, 2, 0, 3)
    pointers = set()
    for step in range(12):
        rows = 6 if step < 8 else 4  # rows leave the batch after step 7
        k, v = _step(rows)
        cache.append(k, v)
        reference_k, reference_v = torch.cat([reference_k, k], 2), torch.cat([reference_v, v], 2)
        order = torch.randint(0, rows, (6 if step < 7 else 4,))
        cache.reorder(order)
        reference_k, reference_v = reference_k[order], reference_v[order]
        assert torch.equal(cache.keys[:, :, : cache.length], reference_k)
        assert torch.equal(cache.values[:, :, : cache.length], reference_v)
        pointers.add(cache.keys.data_ptr())
    assert len(pointers) <= 3  # the cache and its spare swap; shrinking reuses the spare's first rows


def test_a_reorder_moving_few_rows_copies_them_in_place():
    cache = KVCache()
    k0, v0 = _step(8, 5)
    cache.append(k0, v0)
    pointer = cache.keys.data_ptr()
    # rows 1 and 3 swap, and row 5 takes row 1's past: its source is itself overwritten
    order = torch.tensor([0, 3, 2, 1, 4, 1, 6, 7])
    cache.reorder(order)
    assert cache.keys.data_ptr() == pointer
    k1, v1 = _step(8)
    got_k, got_v = cache.append(k1, v1)
    assert torch.equal(got_k, torch.cat([k0[order], k1], dim=2))
    assert torch.equal(got_v, torch.cat([v0[order], v1], dim=2))
    cache.reorder(torch.arange(8))  # nothing moves
    assert torch.equal(cache.keys[:, :, : cache.length], got_k)


def test_a_rows_filled_positions_are_one_block_for_all_heads():
    # a reorder then copies one block per row, and the first steps touch only the pages they fill
    cache = KVCache()
    for _ in range(3):
        got_k, _ = cache.append(*_step(4, heads=4, dim=8))
    row = got_k[1].transpose(0, 1)  # T x H x D
    assert row.is_contiguous() and got_k.stride(0) == cache.capacity * 4 * 8
