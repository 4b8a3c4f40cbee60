"""LayerDrop: each layer is skipped with probability p in training, never in evaluation or without gradients."""

from __future__ import annotations

import pytest
import torch

from seqlab.core import ConfigError
from seqlab.models.modules.layer_drop import kept_layers

from .conftest import TinyDictionary, TinyTask, build, random_tokens

SMALL = {
    "encoder_layers": 4,
    "decoder_layers": 4,
    "encoder_embed_dim": 16,
    "encoder_ffn_embed_dim": 32,
    "encoder_attention_heads": 2,
    "decoder_embed_dim": 16,
    "decoder_ffn_embed_dim": 32,
    "decoder_attention_heads": 2,
    "dropout": 0.0,
}


def _counted(model: torch.nn.Module) -> dict[str, int]:
    """How often each layer of the model runs, counted by forward hooks."""
    counts: dict[str, int] = {}
    for stack in ("encoder", "decoder"):
        for i, layer in enumerate(getattr(model, stack).layers):
            name = f"{stack}.{i}"
            counts[name] = 0
            layer.register_forward_hook(lambda *_, name=name: counts.__setitem__(name, counts[name] + 1))
    return counts


def test_each_layer_runs_with_probability_one_minus_p_in_training():
    torch.manual_seed(0)
    model = build(
        "transformer", TinyTask(TinyDictionary(24)), encoder_layerdrop=0.3, decoder_layerdrop=0.6, **SMALL
    )
    assert model.find_unused_parameters  # DDP must not wait for the skipped layers' gradients
    counts = _counted(model.train())
    gen = torch.Generator().manual_seed(0)
    src, prev = random_tokens(2, 5, 24, gen), random_tokens(2, 4, 24, gen)
    for _ in range(400):
        model(src, None, prev)
    for name, n in counts.items():
        expected = 0.7 if name.startswith("encoder") else 0.4
        assert n / 400 == pytest.approx(expected, abs=0.08), name


def test_every_layer_runs_in_evaluation_and_without_gradients():
    model = build(
        "transformer", TinyTask(TinyDictionary(24)), encoder_layerdrop=0.5, decoder_layerdrop=0.5, **SMALL
    )
    counts = _counted(model)
    gen = torch.Generator().manual_seed(0)
    src, prev = random_tokens(2, 5, 24, gen), random_tokens(2, 4, 24, gen)
    model.eval()(src, None, prev)
    with torch.no_grad():  # generation with --retain-dropout: training mode, no gradients
        model.train()(src, None, prev)
    assert set(counts.values()) == {2}


def test_skipped_layers_get_no_gradient_and_the_output_is_that_of_the_kept_layers():
    model = build("transformer_lm", TinyTask(TinyDictionary(24)), decoder_layerdrop=0.5, **SMALL).train()
    tokens = random_tokens(2, 6, 24, torch.Generator().manual_seed(1))
    for seed in range(100):  # a seed that keeps some layers and skips others
        torch.manual_seed(seed)
        kept = kept_layers(model.decoder.layers, 0.5, True)
        if 0 < len(kept) < len(model.decoder.layers):
            break
    torch.manual_seed(seed)
    logits, _ = model(tokens)
    logits.sum().backward()
    for layer in model.decoder.layers:
        has_grad = all(p.grad is not None for p in layer.parameters())
        assert has_grad == any(layer is k for k in kept)
    full = build("transformer_lm", TinyTask(TinyDictionary(24)), decoder_layerdrop=0.0, **SMALL)
    full.load_state_dict(model.state_dict())
    full.decoder.layers = torch.nn.ModuleList(kept)  # the same model with only the kept layers
    assert torch.allclose(full.train()(tokens)[0], logits, atol=1e-6)


@pytest.mark.parametrize("option", ["encoder_layerdrop", "decoder_layerdrop"])
def test_a_probability_of_one_or_more_is_refused(option):
    with pytest.raises(ConfigError, match=f"--{option.replace('_', '-')} must be at least 0 and below 1"):
        build("transformer", TinyTask(TinyDictionary(24)), **{option: 1.0}, **SMALL)


def test_layers_to_keep_builds_a_shallower_model_that_loads_the_full_models_weights():
    task = TinyTask(TinyDictionary(24))
    full = build("transformer_lm", task, **SMALL).eval()
    pruned = build("transformer_lm", task, decoder_layers_to_keep="2,0", **SMALL).eval()
    assert len(pruned.decoder.layers) == 2
    pruned.load_state_dict(pruned.upgrade_state_dict(full.state_dict()), strict=True)
    tokens = random_tokens(2, 6, 24, torch.Generator().manual_seed(1))
    full.decoder.layers = torch.nn.ModuleList([full.decoder.layers[0], full.decoder.layers[2]])
    assert torch.allclose(pruned(tokens)[0], full(tokens)[0], atol=1e-6)
    # a pruned model's own checkpoint loads as it is
    own = pruned.state_dict()
    assert pruned.upgrade_state_dict(dict(own)).keys() == own.keys()


def test_layers_to_keep_of_the_translation_model_and_its_errors():
    task = TinyTask(TinyDictionary(24))
    full = build("transformer", task, **SMALL)
    pruned = build("transformer", task, encoder_layers_to_keep="1", decoder_layers_to_keep="0,3", **SMALL)
    state = pruned.upgrade_state_dict(full.state_dict())
    pruned.load_state_dict(state, strict=True)
    assert torch.equal(
        state["decoder.layers.1.ffn.fc1.weight"], full.state_dict()["decoder.layers.3.ffn.fc1.weight"]
    )
    with pytest.raises(
        ConfigError, match="--encoder-layers-to-keep: the checkpoint has 4 layers, no layer 7"
    ):
        build("transformer", task, encoder_layers_to_keep="0,7", **SMALL).upgrade_state_dict(
            full.state_dict()
        )
    with pytest.raises(ConfigError, match="--decoder-layers-to-keep must list layer indices"):
        build("transformer", task, decoder_layers_to_keep="first", **SMALL)
