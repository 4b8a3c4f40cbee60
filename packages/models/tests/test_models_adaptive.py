"""Adaptive input and adaptive softmax: the bands, the distribution, the ties and the flags' errors."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from seqlab.core import ConfigError
from seqlab.core.testing import check_model
from seqlab.models.modules.adaptive_bands import parse_cutoffs
from seqlab.models.modules.adaptive_input import AdaptiveInput
from seqlab.models.modules.adaptive_softmax import AdaptiveSoftmax

from .conftest import TinyDictionary, TinyTask, build

VOCAB, DIM, CUTOFFS = 30, 16, [10, 20, 30]
SMALL_LM = dict(decoder_embed_dim=DIM, decoder_ffn_embed_dim=32, decoder_layers=2, decoder_attention_heads=2)


def _softmaxes(seed: int = 0) -> dict[str, AdaptiveSoftmax]:
    torch.manual_seed(seed)
    bands = AdaptiveInput(VOCAB, 1, DIM, 2.0, DIM, CUTOFFS)
    return {
        "untied": AdaptiveSoftmax(VOCAB, DIM, CUTOFFS, factor=2.0),
        "tied": AdaptiveSoftmax(VOCAB, DIM, CUTOFFS, factor=2.0, adaptive_input=bands),
        "tied with projections": AdaptiveSoftmax(
            VOCAB, DIM, CUTOFFS, factor=2.0, adaptive_input=bands, tie_proj=True
        ),
    }


@pytest.mark.parametrize("kind", ["untied", "tied", "tied with projections"])
def test_the_distribution_sums_to_one_and_its_nll_is_the_training_loss(kind):
    softmax = _softmaxes()[kind].eval()
    features = torch.randn(3, 7, DIM)
    lprobs = softmax.get_log_prob(features)
    assert lprobs.shape == (3, 7, VOCAB) and lprobs.dtype == torch.float32
    torch.testing.assert_close(lprobs.exp().sum(-1), torch.ones(3, 7))
    target = torch.arange(21).remainder(VOCAB).view(3, 7) * 7 % VOCAB  # words of every band
    assert {int(t) // 10 for t in target.flatten()} == {0, 1, 2}
    scores, targets = softmax(features, target)
    loss = sum(F.cross_entropy(s, t, reduction="sum") for s, t in zip(scores, targets))
    expected = -lprobs.view(-1, VOCAB).gather(1, target.view(-1, 1)).sum()
    torch.testing.assert_close(loss, expected)


def test_a_tail_without_targets_still_gives_its_parameters_a_gradient():
    softmax = _softmaxes()["untied"].train()
    scores, targets = softmax(torch.randn(4, DIM), torch.tensor([2, 3, 4, 5]))  # head words only
    assert [s.size(0) for s in scores] == [4, 0, 0]
    sum(F.cross_entropy(s, t, reduction="sum") for s, t in zip(scores, targets)).backward()
    assert all(p.grad is not None for p in softmax.parameters())


def test_tying_shares_the_input_bands_and_saves_their_parameters():
    torch.manual_seed(0)
    bands = AdaptiveInput(VOCAB, 1, DIM, 2.0, DIM, CUTOFFS)
    tied = AdaptiveSoftmax(VOCAB, DIM, CUTOFFS, factor=2.0, adaptive_input=bands, tie_proj=True)
    for band in (1, 2):
        table, projection = bands.weights_for_band(band)
        assert tied.tails[band - 1].output.weight is table
        assert tied.tails[band - 1].projection.weight is projection
        assert table.size(1) == DIM // 2**band
    assert tied.head.words.weight is bands.weights_for_band(0)[0]
    own = {id(p) for p in bands.parameters()}
    extra = sum(p.numel() for p in tied.parameters() if id(p) not in own)
    assert extra == DIM * 2  # only the head's two cluster rows are the softmax's own


def test_adaptive_input_embeds_each_band_through_its_own_table_and_projection():
    torch.manual_seed(0)
    bands = AdaptiveInput(VOCAB, 1, DIM, 2.0, DIM, CUTOFFS)
    tokens = torch.tensor([[1, 4, 12, 29], [25, 9, 10, 1]])
    out = bands(tokens)
    assert out.shape == (2, 4, DIM)
    for (i, j), token in zip([(0, 1), (0, 2), (0, 3), (1, 0)], [4, 12, 29, 25]):
        band = token // 10
        table, projection = bands.weights_for_band(band)
        torch.testing.assert_close(out[i, j], projection @ table[token - 10 * band])
    assert bool((out[0, 0] == 0).all()) and bool((out[1, 3] == 0).all())  # padding embeds to zero


def test_cutoffs_are_checked_against_the_dictionary():
    assert parse_cutoffs("10,20", 30, "--adaptive-softmax-cutoff") == [10, 20, 30]
    assert parse_cutoffs("10,30", 30, "--adaptive-softmax-cutoff") == [10, 30]
    for bad, message in [
        ("20000,60000", "goes past the dictionary's 30 entries"),
        ("20,10", "must list increasing word counts"),
        ("ten", "must list increasing word counts"),
        ("", "needs the band cutoffs"),
    ]:
        with pytest.raises(ConfigError, match=message):
            parse_cutoffs(bad, 30, "--adaptive-softmax-cutoff")


@pytest.mark.parametrize(
    "options, message",
    [
        (dict(tie_adaptive_weights=True), "set --adaptive-softmax-cutoff too"),
        (dict(adaptive_softmax_cutoff="10,20", tie_adaptive_weights=True), "set --adaptive-input too"),
        (
            dict(
                adaptive_input=True,
                adaptive_input_cutoff="10,20",
                adaptive_softmax_cutoff="10,25",
                tie_adaptive_weights=True,
            ),
            "the same value",
        ),
        (dict(adaptive_softmax_cutoff="10,20", tie_adaptive_proj=True), "set --tie-adaptive-weights too"),
        (
            dict(adaptive_softmax_cutoff="10,20", share_decoder_input_output_embed=True),
            "drop the sharing flag",
        ),
        (
            dict(adaptive_input=True, adaptive_input_cutoff="10,20", share_decoder_input_output_embed=True),
            "one embedding table",
        ),
        (dict(adaptive_input=True), "--adaptive-input-cutoff needs the band cutoffs"),
    ],
)
def test_inconsistent_adaptive_flags_are_config_errors(options, message):
    with pytest.raises(ConfigError, match=message):
        build("transformer_lm", TinyTask(TinyDictionary(VOCAB)), **SMALL_LM, **options)


def test_the_translation_transformer_takes_an_adaptive_softmax():
    argv = [
        *("--encoder-embed-dim", "16", "--encoder-ffn-embed-dim", "32", "--encoder-layers", "1"),
        *("--encoder-attention-heads", "2", "--decoder-embed-dim", "16", "--decoder-ffn-embed-dim", "32"),
        *("--decoder-layers", "1", "--decoder-attention-heads", "2", "--adaptive-softmax-cutoff", "8,16"),
    ]
    model = check_model("transformer", argv=argv, spawn=False)
    assert model.decoder.adaptive_softmax is not None and model.output_projection_weight() is None
    assert not model.decoder.normalizes_by_log_softmax()


def test_plain_models_keep_their_fused_paths():
    model = build("transformer_lm", TinyTask(TinyDictionary(VOCAB)), **SMALL_LM)
    assert model.decoder.adaptive_softmax is None
    assert model.decoder.normalizes_by_log_softmax() and model.output_projection_weight() is not None
