"""seqlab-core's conformance kit on ``gru``: what seq-train, generation and checkpoints rely on."""

import pytest

import seqlab.models.gru  # noqa: F401  (registers the plugins when run from a source checkout)
from seqlab.core.testing import check_incremental_decoder, check_model, check_registration

ARCHITECTURES = ["gru", "gru_small", "gru_tiny"]

#: option sets that change the model's structure, each checked on the tiny preset
VARIANTS = {
    "defaults": [],
    "unidirectional-stacked": [
        "--no-encoder-bidirectional",
        "--encoder-layers",
        "2",
        "--decoder-layers",
        "3",
    ],
    "no-attention": ["--no-decoder-attention"],
    "tied-output": ["--share-decoder-input-output-embed", "--dropout", "0.2"],
}


@pytest.mark.parametrize("kind, name", [("model", "gru")] + [("architecture", a) for a in ARCHITECTURES])
def test_registers_idempotently(kind, name):
    check_registration(kind, name)


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_every_architecture_builds_trains_saves_and_pickles(arch):
    check_model(arch)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_decodes_incrementally_as_the_full_forward_pass(variant):
    model = check_model("gru_tiny", argv=VARIANTS[variant], spawn=False)
    check_incremental_decoder(model)


def test_presets_set_sizes_that_typed_flags_override():
    tiny = check_model("gru_tiny", spawn=False)
    assert tiny.encoder.rnn.hidden_size == 32 and tiny.decoder.rnn.hidden_size == 64
    wider = check_model("gru_tiny", argv=["--decoder-hidden-size", "48"], spawn=False)
    assert wider.decoder.rnn.hidden_size == 48 and wider.encoder.rnn.hidden_size == 32
