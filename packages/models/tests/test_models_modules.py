"""Building blocks: fairseq's sinusoids, attention masks, and reordering of ``encoder_out``."""

from __future__ import annotations

import math

import torch

from seqlab.models.modules import (
    SinusoidalPositionalEmbedding,
    decoder_self_attn_mask,
    key_padding_mask,
    reorder_encoder_out,
)


def test_sinusoids_follow_fairseq_layout():
    dim, pad = 6, 1
    emb = SinusoidalPositionalEmbedding(dim, pad, 1024)(torch.tensor([[pad, 2, 7]]))[0]
    half = dim // 2
    freqs = [math.exp(-i * math.log(10000) / (half - 1)) for i in range(half)]
    for row, pos in ((1, 2), (2, 7)):
        want = [math.sin(pos * f) for f in freqs] + [math.cos(pos * f) for f in freqs]  # sines, then cosines
        torch.testing.assert_close(emb[row], torch.tensor(want), atol=1e-6, rtol=0)
    assert torch.all(emb[0] == 0)  # the padding position embeds to zero


def test_cpu_table_equals_the_computed_sinusoids_as_it_grows():
    module = SinusoidalPositionalEmbedding(8, 1, 1024)
    for longest in (5, 300, 1000):  # past the first table, then past its doubling
        positions = torch.tensor([[1, 2, longest], [3, 1, 4]])
        want = module.sinusoids(positions).masked_fill(positions.eq(1).unsqueeze(-1), 0.0)
        assert torch.equal(module(positions), want)
    assert module.state_dict() == {}  # the table is a cache, never part of a checkpoint


def test_masks_are_left_out_where_not_needed():
    right_padded = torch.tensor([[False, False, True], [False, False, False]])
    assert decoder_self_attn_mask(right_padded, 0) == (None, True)
    assert key_padding_mask(torch.zeros(2, 3, dtype=torch.bool)) is None

    left_padded = torch.tensor([[True, False, False]])
    mask, is_causal = decoder_self_attn_mask(left_padded, 0)
    assert not is_causal
    want = torch.tensor([[True, False, False], [False, True, False], [False, True, True]])
    assert torch.equal(mask[0, 0], want)  # causal, pads hidden, every query sees itself


def test_one_cached_step_sees_every_real_key():
    padding = torch.tensor([[True, False, False, False]])
    mask, is_causal = decoder_self_attn_mask(padding, 3)
    assert not is_causal and torch.equal(mask[0, 0, 0], torch.tensor([False, True, True, True]))
    chunk, _ = decoder_self_attn_mask(padding, 2)  # two new queries: causal within the chunk
    assert torch.equal(chunk[0, 0], torch.tensor([[False, True, True, False], [False, True, True, True]]))
    # nothing padded (beam search over a source): on the CPU no mask, so attention runs without one
    assert decoder_self_attn_mask(torch.zeros(2, 4, dtype=torch.bool), 3) == (None, False)


def test_reorder_encoder_out_selects_rows_on_each_entrys_batch_dimension():
    bsz, src_len, dim, layers = 3, 4, 2, 2
    batch_first = torch.randn(bsz, src_len, dim)
    encoder_out = {
        "encoder_out": [batch_first.transpose(0, 1)],
        "encoder_padding_mask": [torch.rand(bsz, src_len) > 0.5],
        "encoder_embedding": [torch.randn(bsz, src_len, dim)],
        "encoder_states": [torch.randn(src_len, bsz, dim)],
        "encoder_hidden": [torch.randn(layers, bsz, dim)],
        "src_tokens": [],
        "src_lengths": [torch.tensor([4, 2, 3])],
    }
    order = torch.tensor([2, 0, 2, 1])
    got = reorder_encoder_out(encoder_out, order)
    assert torch.equal(got["encoder_out"][0], batch_first[order].transpose(0, 1))
    assert torch.equal(got["encoder_padding_mask"][0], encoder_out["encoder_padding_mask"][0][order])
    assert torch.equal(got["encoder_embedding"][0], encoder_out["encoder_embedding"][0][order])
    assert torch.equal(got["encoder_states"][0], encoder_out["encoder_states"][0][:, order])
    assert torch.equal(got["encoder_hidden"][0], encoder_out["encoder_hidden"][0][:, order])
    assert got["src_tokens"] == [] and torch.equal(got["src_lengths"][0], torch.tensor([3, 4, 3, 2]))
    assert got["encoder_out"][0].transpose(0, 1).is_contiguous()  # stays batch-first underneath


def test_feed_forward_gives_the_plain_values_and_gradients_with_and_without_autograd():
    from seqlab.models.modules.transformer_layer import FeedForward

    torch.manual_seed(0)
    for name in ("relu", "gelu"):
        ff = FeedForward(8, 16, name, activation_dropout=0.0)
        x = torch.randn(3, 5, 8, requires_grad=True)
        act = torch.relu if name == "relu" else torch.nn.functional.gelu
        want = ff.fc2(act(ff.fc1(x)))
        grads_want = torch.autograd.grad(want.square().sum(), [x, *ff.parameters()])
        got = ff(x)
        grads_got = torch.autograd.grad(got.square().sum(), [x, *ff.parameters()])
        torch.testing.assert_close(got, want, rtol=0, atol=0)
        for g, w in zip(grads_got, grads_want):
            torch.testing.assert_close(g, w, rtol=0, atol=0)
        with torch.no_grad():
            torch.testing.assert_close(ff(x), want, rtol=0, atol=0)


def test_feed_forward_backward_copies_nothing_whole():
    from seqlab.models.modules.transformer_layer import FeedForward

    ff = FeedForward(8, 16, "relu", activation_dropout=0.0)
    out = ff(torch.randn(3, 5, 8, requires_grad=True))
    seen, todo = set(), [out.grad_fn]
    while todo:
        node = todo.pop()
        if node is not None and node not in seen:
            seen.add(node)
            todo.extend(next_fn for next_fn, _ in node.next_functions)
    names = {type(node).__name__ for node in seen}
    # an in-place activation on fc1's output (a view) would add CopySlices and copy it whole
    assert "CopySlices" not in names and "AsStridedBackward0" not in names, names
