"""Merging two decodes at the same step (beam search's tail merging): caches join row by row, and
encoder outputs of different source lengths are padded to the longer one."""

from __future__ import annotations

import pytest
import torch

from seqlab.core import SeqlabError
from seqlab.models.modules import KVCache
from seqlab.models.modules.decode_merging import merge_encoder_out


def _filled(rows: int, length: int, appends: int = 1) -> tuple[KVCache, torch.Tensor, torch.Tensor]:
    cache = KVCache()
    keys, values = torch.randn(rows, 2, length, 3), torch.randn(rows, 2, length, 3)
    for part_k, part_v in zip(keys.chunk(appends, dim=2), values.chunk(appends, dim=2)):
        cache.append(part_k, part_v)
    return cache, keys, values


def test_merged_caches_hold_the_first_rows_then_the_second_and_keep_growing():
    first, k1, v1 = _filled(3, 20, appends=20)  # capacity 32
    second, k2, v2 = _filled(2, 20)  # capacity 20
    first.concat(second)
    assert first.length == 20 and first.capacity == 32
    new_k, new_v = torch.randn(5, 2, 1, 3), torch.randn(5, 2, 1, 3)
    keys, values = first.append(new_k, new_v)
    assert torch.equal(keys, torch.cat([torch.cat([k1, k2]), new_k], dim=2))
    assert torch.equal(values, torch.cat([torch.cat([v1, v2]), new_v], dim=2))


def test_caches_of_different_lengths_do_not_merge():
    first, _, _ = _filled(2, 4)
    second, _, _ = _filled(2, 5)
    with pytest.raises(ValueError, match="5 positions into one of 4"):
        first.concat(second)


def _encoder_out(rows: int, src: int, padded_row: int | None = None) -> dict:
    states = torch.randn(rows, src, 4)
    padding = torch.zeros(rows, src, dtype=torch.bool)
    if padded_row is not None:
        padding[padded_row, :2] = True
    return {
        "encoder_out": [states.transpose(0, 1)],
        "encoder_padding_mask": [padding],
        "encoder_embedding": [torch.randn(rows, src, 4)],
        "encoder_states": [],
        "src_tokens": [],
        "src_lengths": [(~padding).sum(1)],
    }


def test_encoder_outputs_merge_padded_to_the_longer_source_and_stay_batch_first():
    first, second = _encoder_out(2, 3), _encoder_out(3, 5, padded_row=1)
    merged = merge_encoder_out(first, second)
    states, mask = merged["encoder_out"][0], merged["encoder_padding_mask"][0]
    assert states.shape == (5, 5, 4) and states.transpose(0, 1).is_contiguous()
    assert torch.equal(states[:3, :2], first["encoder_out"][0]) and torch.equal(
        states[:, 2:], second["encoder_out"][0]
    )
    assert states[3:, :2].abs().sum() == 0
    assert mask[:2].tolist() == [[False] * 3 + [True] * 2] * 2  # the added positions are hidden
    assert torch.equal(mask[2:], second["encoder_padding_mask"][0])
    assert merged["encoder_embedding"][0].shape == (5, 5, 4) and merged["src_tokens"] == []
    assert merged["src_lengths"][0].tolist() == [3, 3, 5, 3, 5]


def test_the_conformance_kit_checks_merging_and_catches_a_cache_that_joins_rows_wrongly(kit, monkeypatch):
    from seqlab.core.testing import ConformanceError, check_incremental_decoder, dummy_dictionary

    dictionary = dummy_dictionary(40)  # 36 words after the 4 special symbols
    model = kit.build("transformer", kit.TinyTask(dictionary), **kit.TINY_TRANSFORMER).eval()
    assert model.decoder.supports_merged_decoding
    check_incremental_decoder(model)  # the built-in transformer merges correctly
    plain = KVCache.concat

    def second_first(self, other):  # joins the rows in the wrong order
        plain(other, self)
        self._keys, self._values = other._keys, other._values

    monkeypatch.setattr(KVCache, "concat", second_first)
    with pytest.raises(ConformanceError, match="after merging two decodes"):
        check_incremental_decoder(model)


def test_decodes_at_different_steps_do_not_merge(kit):
    model = kit.build("transformer", kit.TinyTask(kit.TinyDictionary(36)), **kit.TINY_TRANSFORMER).eval()
    src = torch.tensor([[5, 6, kit.EOS]])
    states = [{}, {}]
    with torch.no_grad():
        encoder_out = model.encoder(src)
        for state, steps in zip(states, (2, 3)):
            tokens = torch.full((1, steps), 7)
            for t in range(1, steps + 1):
                model.decoder(tokens[:, :t], encoder_out=encoder_out, incremental_state=state)
    with pytest.raises(SeqlabError, match="different steps \\(2 and 3 tokens\\)"):
        model.decoder.merge_incremental_state(*states)
