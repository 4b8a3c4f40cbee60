"""Beam search's grouped rows: one encoder row per sentence serves its K hypotheses unchanged."""

from __future__ import annotations

import pytest
import torch

from seqlab.models.modules import CrossAttention


def _setup(sentences: int, beam: int, src: int = 7, dim: int = 8):
    torch.manual_seed(0)
    attn = CrossAttention(dim, 2, dim).eval()
    memory = torch.randn(sentences, src, dim)
    padding = torch.zeros(sentences, src, dtype=torch.bool)
    padding[0, -3:] = True  # the first sentence is shorter
    mask = ~padding[:, None, None, :]
    return attn, memory, mask


@pytest.mark.parametrize("need_weights", [False, True])
def test_grouped_rows_attend_exactly_as_rows_with_their_own_copy(need_weights):
    sentences, beam = 3, 4
    attn, memory, mask = _setup(sentences, beam)
    per_row = torch.arange(sentences).repeat_interleave(beam)
    grouped_state: dict = {}
    copied_state: dict = {}
    with torch.no_grad():
        for _ in range(3):
            x = torch.randn(sentences * beam, 1, 8)
            got, got_w = attn(x, memory, mask, grouped_state, need_weights)
            want, want_w = attn(x, memory[per_row], mask[per_row], copied_state, need_weights)
            torch.testing.assert_close(got, want, atol=1e-6, rtol=1e-5)
            if need_weights:
                torch.testing.assert_close(got_w, want_w, atol=1e-6, rtol=1e-5)
    assert attn.get_incremental_state(grouped_state, "static_kv")["k"].size(0) == sentences


def test_grouped_cache_follows_beam_reorders_and_sentences_leaving():
    sentences, beam = 3, 2
    attn, memory, mask = _setup(sentences, beam)
    grouped: dict = {}
    copied: dict = {}
    per_row = torch.arange(sentences).repeat_interleave(beam)
    with torch.no_grad():
        x = torch.randn(sentences * beam, 1, 8)
        attn(x, memory, mask, grouped)
        attn(x, memory[per_row], mask[per_row], copied)
        within = torch.tensor([1, 1, 2, 3, 5, 4])  # hypotheses move only inside their sentence
        attn.reorder_incremental_state(grouped, within)
        attn.reorder_incremental_state(copied, within)
        assert attn.get_incremental_state(grouped, "static_kv")["k"].size(0) == sentences
        leaving = torch.tensor([4, 5, 0, 0])  # sentence 1 leaves; 2 and 0 stay, in that order
        attn.reorder_incremental_state(grouped, leaving)
        attn.reorder_incremental_state(copied, leaving)
        x = torch.randn(4, 1, 8)
        kept = torch.tensor([2, 0])
        got, _ = attn(x, None, mask[kept], grouped)
        want, _ = attn(x, None, mask[kept].repeat_interleave(beam, 0), copied)
    torch.testing.assert_close(got, want, atol=1e-6, rtol=1e-5)


def test_rows_that_do_not_divide_into_the_encoder_rows_are_refused():
    attn, memory, mask = _setup(3, 1)
    with pytest.raises(ValueError, match="5 decoder rows for 3 encoder rows"):
        attn(torch.randn(5, 1, 8), memory, None, {})


def test_the_conformance_kit_checks_grouped_rows_and_catches_a_cache_that_ignores_them(kit, monkeypatch):
    from seqlab.core.testing import check_incremental_decoder, dummy_dictionary

    dictionary = dummy_dictionary(40)  # 36 words after the 4 special symbols
    model = kit.build("transformer", kit.TinyTask(dictionary), **kit.TINY_TRANSFORMER).eval()
    assert model.decoder.supports_grouped_encoder_out
    check_incremental_decoder(model)  # the built-in transformer passes the grouped check too

    plain = CrossAttention.reorder_incremental_state

    def keeps_every_sentence(self, incremental_state, new_order):
        state = self.get_incremental_state(incremental_state, "static_kv")
        if state is None or state.get("group", 1) == 1:
            plain(self, incremental_state, new_order)  # grouped rows: never drops the sentences that left

    monkeypatch.setattr(CrossAttention, "reorder_incremental_state", keeps_every_sentence)
    with pytest.raises(AssertionError, match="decoding of grouped rows at step 4"):
        check_incremental_decoder(model)
