"""Transformers tell a loss their output projection, and their features give exactly their logits through it."""

from __future__ import annotations

import pytest
import torch

from seqlab.models.modules import TransformerDecoder

CASES = {
    "transformer-shared": ("transformer", {"share_all_embeddings": True}),
    "transformer-separate": ("transformer", {"share_decoder_input_output_embed": False}),
    "transformer_lm": ("transformer_lm", {}),
}


def _build(kit, case: str):
    arch, extra = CASES[case]
    tiny = kit.TINY_LM if arch == "transformer_lm" else kit.TINY_TRANSFORMER
    return kit.build(arch, kit.TinyTask(kit.TinyDictionary(40)), **{**tiny, **extra}).eval()


@pytest.mark.parametrize("case", sorted(CASES))
def test_features_times_the_projection_weight_are_the_logits(case, kit, gen):
    model = _build(kit, case)
    weight = model.output_projection_weight()
    assert weight is model.decoder.output_projection.weight
    if case == "transformer-shared":
        assert weight is model.encoder.embed_tokens.weight
    tokens = kit.random_tokens(2, 7, 40, gen)
    inputs = {"src_tokens": tokens}
    if case != "transformer_lm":
        inputs.update(src_lengths=torch.full((2,), 7), prev_output_tokens=kit.random_tokens(2, 5, 40, gen))
    with torch.no_grad():
        logits, _ = model(**inputs)
        features, _ = model(**inputs, features_only=True)
    assert features.shape[-1] == weight.shape[1]
    torch.testing.assert_close(features @ weight.t(), logits)


class ScaledOutput(TransformerDecoder):
    """Changes the output layer, so its weight alone no longer gives the logits."""

    def output_layer(self, features, **kwargs):
        return 2 * super().output_layer(features)


def test_a_changed_output_layer_or_forward_hides_the_weight(kit):
    model = _build(kit, "transformer-shared")
    model.decoder.__class__ = ScaledOutput
    assert model.output_projection_weight() is None
    model.decoder.__class__ = TransformerDecoder
    assert model.output_projection_weight() is not None

    class OwnForward(type(model)):
        def forward(self, src_tokens, src_lengths, prev_output_tokens, **kwargs):
            return super().forward(src_tokens, src_lengths, prev_output_tokens)

    model.__class__ = OwnForward
    assert model.output_projection_weight() is None


def test_the_lstm_decoder_keeps_its_logits(kit):
    model = kit.build("lstm", kit.TinyTask(kit.TinyDictionary(40)), **kit.TINY_LSTM)
    assert model.output_projection_weight() is None
