"""Each named architecture has fairseq 0.12's parameter count (8,000-symbol joined dictionary)."""

from __future__ import annotations

import pytest
import torch

# fairseq 0.12, dictionary of 4 specials + 7,996 words (source = target), sinusoidal positions
FAIRSEQ_COUNTS = [
    ("transformer", {"share_all_embeddings": True}, 48_234_496),
    ("transformer_wmt_en_de", {"share_all_embeddings": True}, 48_234_496),
    ("transformer_iwslt_de_en", {"share_all_embeddings": True}, 35_639_296),
    ("transformer_iwslt_de_en", {}, 43_831_296),
    ("transformer_vaswani_wmt_en_de_big", {"share_all_embeddings": True}, 184_549_376),
    ("transformer_vaswani_wmt_en_fr_big", {"share_all_embeddings": True}, 184_549_376),
    ("transformer_wmt_en_de_big", {"share_all_embeddings": True}, 184_549_376),
    ("transformer_wmt_en_de_big_t2t", {"share_all_embeddings": True}, 184_553_472),
    ("transformer_lm_big", {}, 167_540_736),
    ("transformer_lm_gpt", {}, 97_344_000),
    ("transformer_lm_gpt2_small", {}, 318_695_424),
    # the presets' cutoffs (20000,60000) exceed this dictionary: fairseq was given these
    (
        "transformer_lm_wiki103",
        {"adaptive_input_cutoff": "2000,4000", "adaptive_softmax_cutoff": "2000,4000"},
        205_733_888,
    ),
    ("transformer_lm_gbw", {}, 71_211_008),
    ("transformer_lm_gbw", {"adaptive_softmax_cutoff": "2000,4000"}, 68_605_952),
    ("transformer_lm_big", {"decoder_input_dim": 256, "decoder_output_dim": 384}, 156_932_096),
    (
        "transformer_lm_big",
        {
            "decoder_input_dim": 256,
            "decoder_output_dim": 384,
            "adaptive_input": True,
            "adaptive_input_cutoff": "2000,4000",
            "adaptive_softmax_cutoff": "2000,4000",
        },
        153_700_864,
    ),
    ("transformer", {"decoder_output_dim": 256}, 54_509_568),
    ("lstm", {}, 18_333_504),
    ("lstm_wiseman_iwslt_de_en", {}, 7_663_424),
    ("lstm_luong_wmt_en_de", {}, 95_072_000),
]


@pytest.mark.parametrize(
    "arch,options,expected",
    FAIRSEQ_COUNTS,
    ids=[f"{a}{''.join('-' + k for k in o)}" for a, o, _ in FAIRSEQ_COUNTS],
)
def test_named_architecture_has_fairseq_parameter_count(arch, options, expected, kit):
    task = kit.TinyTask(kit.TinyDictionary(8000))
    with torch.device("meta"):  # shapes only: nothing allocates hundreds of millions of floats
        model = kit.build(arch, task, **options)
    assert sum(p.numel() for p in model.parameters()) == expected


def test_learned_positions_add_fairseq_sized_tables(kit):
    task = kit.TinyTask(kit.TinyDictionary(8000))
    with torch.device("meta"):
        model = kit.build(
            "transformer", task, share_all_embeddings=True, encoder_learned_pos=True, decoder_learned_pos=True
        )
    # fairseq's learned table holds max_positions + padding_idx + 1 rows
    extra = 2 * (1024 + kit.PAD + 1) * 512
    assert sum(p.numel() for p in model.parameters()) == 48_234_496 + extra


def test_shared_embeddings_are_one_tensor(kit):
    model = kit.build(
        "transformer", kit.TinyTask(kit.TinyDictionary(50)), **kit.TINY_TRANSFORMER, share_all_embeddings=True
    )
    weight = model.encoder.embed_tokens.weight
    assert model.decoder.embed_tokens.weight is weight
    assert model.decoder.output_projection.weight is weight
    lm = kit.build(
        "transformer_lm",
        kit.TinyTask(kit.TinyDictionary(50)),
        **kit.TINY_LM,
        share_decoder_input_output_embed=True,
    )
    assert lm.decoder.output_projection.weight is lm.decoder.embed_tokens.weight
