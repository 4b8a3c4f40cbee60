"""Every model and architecture seqlab-models declares passes the conformance kit.

The names come from the distribution's entry points, so a new plugin is covered as soon
as it is declared. Presets are built with small sizes typed on top (typed flags beat the
preset, everything else is the preset's); a model without sizes here builds at its defaults.
"""

from __future__ import annotations

import importlib.metadata as md

import pytest

from seqlab.core.registry import resolve_architecture
from seqlab.core.testing import check_incremental_decoder, check_model, check_registration

ENTRY_POINTS = md.distribution("seqlab-models").entry_points
MODELS = sorted(ep.name for ep in ENTRY_POINTS if ep.group == "seqlab.models")
ARCHITECTURES = sorted(ep.name for ep in ENTRY_POINTS if ep.group == "seqlab.architectures")

_TRANSFORMER_DECODER = [
    *("--decoder-embed-dim", "16", "--decoder-ffn-embed-dim", "32"),
    *("--decoder-layers", "2", "--decoder-attention-heads", "2"),
]
#: small sizes per model, typed on top of each preset
SMALL = {
    "transformer": [
        *("--encoder-embed-dim", "16", "--encoder-ffn-embed-dim", "32"),
        *("--encoder-layers", "2", "--encoder-attention-heads", "2"),
        *_TRANSFORMER_DECODER,
    ],
    "transformer_lm": _TRANSFORMER_DECODER,
    "lstm": [
        *("--encoder-embed-dim", "16", "--encoder-hidden-size", "16"),
        *("--decoder-embed-dim", "16", "--decoder-hidden-size", "16", "--decoder-out-embed-dim", "16"),
    ],
}

#: presets whose band cutoffs (20000,60000) do not fit the kit's 26-word dictionary
_SMALL_BANDS = ["--adaptive-input-cutoff", "10,18", "--adaptive-softmax-cutoff", "10,18"]
SMALL_ARCH = {
    arch: [*_TRANSFORMER_DECODER, *_SMALL_BANDS]
    for arch in ("transformer_lm_wiki103", "transformer_lm_baevski_wiki103")
}


def test_the_distribution_declares_models_and_architectures():
    assert {"transformer", "transformer_lm", "lstm"} <= set(MODELS)
    assert set(MODELS) <= set(ARCHITECTURES) | set(MODELS)
    assert len(ARCHITECTURES) > len(MODELS)


@pytest.mark.parametrize(
    "kind, name", [("model", m) for m in MODELS] + [("architecture", a) for a in ARCHITECTURES]
)
def test_registers_idempotently_from_its_entry_point(kind, name):
    check_registration(kind, name, installed=True)


#: options that change the model's shape, checked on top of the small sizes
VARIANTS = [
    ("transformer_lm", ["--decoder-input-dim", "8", "--decoder-output-dim", "12"]),
    ("transformer_lm", ["--checkpoint-activations", "--decoder-input-dim", "8"]),
    ("transformer", ["--decoder-output-dim", "12", "--adaptive-softmax-cutoff", "10,16"]),
    ("transformer_lm", ["--adaptive-input", "--adaptive-input-cutoff", "10", "--decoder-output-dim", "12"]),
    ("transformer", ["--no-token-positional-embeddings", "--encoder-learned-pos"]),
    ("transformer_lm", ["--no-token-positional-embeddings"]),
]


@pytest.mark.parametrize("arch, argv", VARIANTS, ids=[f"{a}{''.join(v)}" for a, v in VARIANTS])
def test_shape_options_keep_the_contract(arch, argv):
    model = check_model(arch, argv=[*SMALL[arch], *argv], spawn=False)
    check_incremental_decoder(model)


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_architecture_trains_saves_pickles_and_decodes_incrementally(arch):
    _, model_plugin = resolve_architecture(arch)
    model = check_model(arch, argv=SMALL_ARCH.get(arch, SMALL.get(model_plugin.name, [])))
    check_incremental_decoder(model)
