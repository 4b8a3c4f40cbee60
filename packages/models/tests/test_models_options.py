"""Options and named architectures as users meet them: flags, presets, the seed example, errors."""

from __future__ import annotations

import dataclasses
import importlib
import importlib.metadata
import textwrap

import pytest
import torch

from seqlab.core import ConfigError, SeqlabError, build_model
from seqlab.core.options import ARCH, ToolSpec, parse
from seqlab.core.registry import get_plugin
from seqlab.core.testing import isolated_plugins
from seqlab.models.lstm import LSTMConfig
from seqlab.models.transformer import TransformerConfig
from seqlab.models.transformer_lm import TransformerLanguageModelConfig

TRAIN = ToolSpec("seq-train", "train a model", (ARCH,))

ARCHITECTURES = {
    "transformer": "transformer",
    "transformer_iwslt_de_en": "transformer",
    "transformer_wmt_en_de": "transformer",
    "transformer_vaswani_wmt_en_de_big": "transformer",
    "transformer_vaswani_wmt_en_fr_big": "transformer",
    "transformer_wmt_en_de_big": "transformer",
    "transformer_wmt_en_de_big_t2t": "transformer",
    "transformer_lm": "transformer_lm",
    "transformer_lm_big": "transformer_lm",
    "transformer_lm_gpt": "transformer_lm",
    "transformer_lm_gpt2_small": "transformer_lm",
    "transformer_lm_wiki103": "transformer_lm",
    "transformer_lm_baevski_wiki103": "transformer_lm",
    "transformer_lm_gbw": "transformer_lm",
    "transformer_lm_baevski_gbw": "transformer_lm",
    "lstm": "lstm",
    "lstm_wiseman_iwslt_de_en": "lstm",
    "lstm_luong_wmt_en_de": "lstm",
}

SEED_EXAMPLE = """
from seqlab.core import register_model_architecture
from seqlab.models.transformer import transformer_vaswani_wmt_en_de_big

@register_model_architecture("transformer", "my_transformer")
def transformer_mmt_big(args):
    transformer_vaswani_wmt_en_de_big(args)
"""

BIG = {
    "encoder_embed_dim": 1024,
    "encoder_ffn_embed_dim": 4096,
    "encoder_attention_heads": 16,
    "encoder_layers": 6,
    "decoder_embed_dim": 1024,
    "decoder_ffn_embed_dim": 4096,
    "decoder_attention_heads": 16,
    "decoder_layers": 6,
    "dropout": 0.3,
    "attention_dropout": 0.0,
    "encoder_normalize_before": False,
    "activation_fn": "relu",
}


@pytest.fixture
def seed_user_dir(tmp_path):
    folder = tmp_path / "my-module"
    folder.mkdir()
    (folder / "__init__.py").write_text(textwrap.dedent(SEED_EXAMPLE))
    with isolated_plugins():
        yield folder


def test_seed_example_resolves_to_the_big_transformer(seed_user_dir, kit):
    cfg = parse(TRAIN, ["--user-dir", str(seed_user_dir), "-a", "my_transformer"])
    assert {k: getattr(cfg.args, k) for k in BIG} == BIG
    assert cfg.sources["encoder_embed_dim"] == "arch my_transformer"
    assert cfg.plugins["arch"].name == "my_transformer" and cfg.plugins["model"].name == "transformer"
    with torch.device("meta"):
        model = build_model(cfg.args, kit.TinyTask(kit.TinyDictionary(8000)))
    assert type(model).__name__ == "TransformerModel"
    assert model.encoder.embed_tokens.embedding_dim == 1024 and len(model.decoder.layers) == 6


def test_seed_example_typed_flags_and_config_beat_the_preset(seed_user_dir, tmp_path):
    config = tmp_path / "run.toml"
    config.write_text("encoder_layers = 3\ndropout = 0.2\n")
    argv = ["--user-dir", str(seed_user_dir), "-a", "my_transformer", "--config", str(config)]
    cfg = parse(TRAIN, [*argv, "--dropout", "0.25", "--decoder-ffn-embed-dim", "2048"])
    assert cfg.args.dropout == 0.25 and cfg.sources["dropout"] == "command line"
    assert cfg.args.decoder_ffn_embed_dim == 2048
    assert cfg.args.encoder_layers == 3 and cfg.sources["encoder_layers"] == f"config {config}"
    assert cfg.args.encoder_ffn_embed_dim == 4096 and cfg.args.decoder_layers == 6  # the rest: preset


@pytest.mark.parametrize(
    "arch,expected",
    [
        (
            "transformer_iwslt_de_en",
            {"encoder_ffn_embed_dim": 1024, "decoder_attention_heads": 4, "dropout": 0.1},
        ),
        ("transformer_vaswani_wmt_en_fr_big", {"encoder_embed_dim": 1024, "dropout": 0.1}),
        ("transformer_wmt_en_de_big", {"decoder_embed_dim": 1024, "attention_dropout": 0.1, "dropout": 0.3}),
        (
            "transformer_wmt_en_de_big_t2t",
            {"encoder_normalize_before": True, "decoder_normalize_before": True, "activation_dropout": 0.1},
        ),
        (
            "transformer_lm_gpt",
            {"decoder_embed_dim": 768, "activation_fn": "gelu", "decoder_normalize_before": True},
        ),
        (
            "lstm_wiseman_iwslt_de_en",
            {"encoder_hidden_size": 256, "encoder_dropout_in": 0, "decoder_dropout_out": 0.1},
        ),
        (
            "lstm_luong_wmt_en_de",
            {"encoder_layers": 4, "decoder_hidden_size": 1000, "encoder_dropout_in": 0.1},
        ),
    ],
)
def test_named_architectures_set_fairseq_hyper_parameters(arch, expected):
    args = parse(TRAIN, ["-a", arch]).args
    assert {k: getattr(args, k) for k in expected} == expected


def test_derived_defaults_follow_typed_values():
    args = parse(TRAIN, ["-a", "transformer", "--encoder-embed-dim", "256"]).args
    assert args.decoder_embed_dim == 256  # fairseq: the decoder follows the encoder unless set
    args = parse(TRAIN, ["-a", "lstm", "--dropout", "0.3", "--encoder-embed-dim", "128"]).args
    assert (args.encoder_dropout_in, args.decoder_dropout_out, args.encoder_hidden_size) == (0.3, 0.3, 128)


@pytest.mark.parametrize("arch", ["transformer", "transformer_lm"])
def test_relu_dropout_is_fairseqs_old_name_for_activation_dropout(arch):
    assert parse(TRAIN, ["-a", arch, "--relu-dropout", "0.2"]).args.activation_dropout == 0.2


def test_no_decoder_final_norm_drops_the_pre_norm_decoders_last_layer_norm(kit):
    task = kit.TinyTask(kit.TinyDictionary(30))
    sizes = {**kit.TINY_TRANSFORMER, "decoder_normalize_before": True}
    assert kit.build("transformer", task, **sizes).decoder.layer_norm is not None
    assert kit.build("transformer", task, **sizes, no_decoder_final_norm=True).decoder.layer_norm is None
    args = parse(
        TRAIN, ["-a", "transformer_lm", "--decoder-normalize-before"]
    ).args  # fairseq LM recipes pass it
    assert args.decoder_normalize_before


def test_language_models_are_pre_norm_unless_told_otherwise(kit):
    task = kit.TinyTask(kit.TinyDictionary(30))
    for argv, pre_norm in (([], True), (["--no-decoder-normalize-before"], False)):
        args = parse(TRAIN, ["-a", "transformer_lm", "--decoder-layers", "1", *argv]).args
        model = build_model(args, task)
        assert model.decoder.layers[0].normalize_before is pre_norm
        assert (model.decoder.layer_norm is not None) is pre_norm  # fairseq 0.12's post-norm has none


def test_without_positional_embeddings_the_encoder_sees_a_bag_of_tokens(kit):
    task = kit.TinyTask(kit.TinyDictionary(30))
    sizes = {**kit.TINY_TRANSFORMER, "dropout": 0.0}
    tokens = torch.tensor([[5, 9, 12, 7, kit.EOS]])
    reordered = torch.tensor([[12, 7, 5, 9, kit.EOS]])  # positions 2, 3, 0, 1, 4
    for no_positions in (True, False):
        torch.manual_seed(0)
        model = kit.build("transformer", task, **sizes, no_token_positional_embeddings=no_positions).eval()
        out = model.encoder(tokens)["encoder_out"][0][:, 0]
        moved = model.encoder(reordered)["encoder_out"][0][:, 0]
        same = torch.allclose(moved, out[[2, 3, 0, 1, 4]], atol=1e-5)
        assert same is no_positions
        assert (model.encoder.embed_positions is None) is no_positions


def test_lm_positions_follow_tokens_per_sample(kit):
    args = parse(TRAIN, ["-a", "transformer_lm", "--tokens-per-sample", "96", "--decoder-learned-pos"]).args
    model = build_model(args, kit.TinyTask(kit.TinyDictionary(20)))
    assert model.max_positions() == 96
    with pytest.raises(SeqlabError, match="--max-target-positions"):
        model(torch.full((1, 97), 5))


def test_decoder_attention_takes_fairseq_boolean_values(kit):
    args = parse(TRAIN, ["-a", "lstm", "--decoder-attention", "0"]).args
    model = build_model(args, kit.TinyTask(kit.TinyDictionary(20)))
    assert model.decoder.attention is None
    with pytest.raises(ConfigError, match="--decoder-attention"):
        parse(TRAIN, ["-a", "lstm", "--decoder-attention", "maybe"])


def test_unknown_activation_is_rejected_with_the_choices():
    with pytest.raises(ConfigError, match="gelu"):
        parse(TRAIN, ["-a", "transformer", "--activation-fn", "swishy"])


@pytest.mark.parametrize("arch", ["transformer", "lstm"])
def test_share_all_embeddings_needs_one_dictionary(arch, kit):
    task = kit.TinyTask(kit.TinyDictionary(30), kit.TinyDictionary(30))
    with pytest.raises(ConfigError, match="joined dictionary"):
        kit.build(arch, task, share_all_embeddings=True)


@pytest.mark.parametrize("arch", ["transformer", "lstm"])
def test_share_all_embeddings_needs_equal_dimensions(arch, kit):
    task = kit.TinyTask(kit.TinyDictionary(30))
    with pytest.raises(ConfigError, match=r"--encoder-embed-dim \(64\) to equal --decoder-embed-dim \(32\)"):
        kit.build(arch, task, share_all_embeddings=True, encoder_embed_dim=64, decoder_embed_dim=32)


def test_build_errors_name_the_flag_to_fix(kit):
    task = kit.TinyTask(kit.TinyDictionary(30))
    with pytest.raises(ConfigError, match="--encoder-attention-heads 5"):
        kit.build("transformer", task, **{**kit.TINY_TRANSFORMER, "encoder_attention_heads": 5})
    with pytest.raises(ConfigError, match="--encoder-layers"):
        kit.build("lstm", task, encoder_layers=2, decoder_layers=1)
    with pytest.raises(ConfigError, match="--decoder-out-embed-dim"):
        kit.build("lstm", task, share_decoder_input_output_embed=True, decoder_out_embed_dim=100)


def test_every_architecture_is_an_installed_entry_point():
    eps = importlib.metadata.entry_points()
    declared = {
        ep.name: ep.value
        for ep in eps.select(group="seqlab.architectures")
        if ep.dist is not None and ep.dist.metadata["Name"] == "seqlab-models"
    }
    assert declared == {arch: f"seqlab.models.{model}" for arch, model in ARCHITECTURES.items()}
    models = {
        ep.name: ep.value
        for ep in eps.select(group="seqlab.models")
        if ep.dist is not None and ep.dist.metadata["Name"] == "seqlab-models"
    }
    assert models == {m: f"seqlab.models.{m}" for m in set(ARCHITECTURES.values())}
    for arch, model in ARCHITECTURES.items():
        importlib.import_module(declared[arch])
        assert get_plugin("architecture", arch).model == model


def test_architecture_functions_are_importable_and_fill_only_unset_options():
    import argparse

    from seqlab.models.lstm import lstm_luong_wmt_en_de
    from seqlab.models.transformer import transformer_vaswani_wmt_en_de_big
    from seqlab.models.transformer_lm import transformer_lm_gpt2_small

    args = argparse.Namespace(encoder_layers=2, dropout=0.0)
    transformer_vaswani_wmt_en_de_big(args)
    assert (args.encoder_layers, args.dropout, args.encoder_embed_dim) == (2, 0.0, 1024)
    args = argparse.Namespace(decoder_layers=3)
    transformer_lm_gpt2_small(args)
    assert (args.decoder_layers, args.decoder_embed_dim) == (3, 1024)
    args = argparse.Namespace()
    lstm_luong_wmt_en_de(args)
    assert (args.encoder_layers, args.decoder_out_embed_dim) == (4, 1000)


@pytest.mark.parametrize("config", [TransformerConfig, TransformerLanguageModelConfig, LSTMConfig])
def test_every_option_is_documented(config):
    undocumented = [f.name for f in dataclasses.fields(config) if not f.metadata.get("help", "").strip()]
    assert undocumented == []
