"""Padding never leaks: either padding side gives the same outputs at real positions."""

from __future__ import annotations

import pytest
import torch

ENCODERS = {
    "transformer": ("transformer", {}),
    "transformer-prenorm-learned": ("transformer_wmt_en_de_big_t2t", {"encoder_learned_pos": True}),
    "lstm": ("lstm", {}),
    "lstm-bidirectional": ("lstm", {"encoder_bidirectional": True}),
}


def _model(kit, case: str, vocab: int):
    arch, extra = ENCODERS[case]
    tiny = kit.TINY_LSTM if arch == "lstm" else kit.TINY_TRANSFORMER
    return kit.build(arch, kit.TinyTask(kit.TinyDictionary(vocab)), **{**tiny, **extra}).eval()


def _rows(kit, gen, vocab: int) -> list[torch.Tensor]:
    return [kit.random_tokens(1, n, vocab, gen)[0] for n in (6, 2, 9, 5)]


def _real_states(encoder_out: dict, padding: torch.Tensor) -> list[torch.Tensor]:
    states = encoder_out["encoder_out"][0].transpose(0, 1)
    return [states[i][~padding[i]] for i in range(states.size(0))]


@pytest.mark.parametrize("case", sorted(ENCODERS))
def test_left_and_right_padding_give_the_same_encoder_outputs(case, kit, gen):
    vocab = 40
    model = _model(kit, case, vocab)
    rows = _rows(kit, gen, vocab)
    left, right = kit.pad_rows(rows, left=True), kit.pad_rows(rows, left=False)
    with torch.no_grad():
        out_left, out_right = model.encoder(left), model.encoder(right)
    assert torch.equal(out_left["encoder_padding_mask"][0], left.eq(kit.PAD))
    for a, b, row in zip(
        _real_states(out_left, left.eq(kit.PAD)), _real_states(out_right, right.eq(kit.PAD)), rows
    ):
        assert a.shape[0] == len(row)
        torch.testing.assert_close(a, b, atol=1e-5, rtol=0)
    if "encoder_hidden" in out_left:  # the lstm's final states are those of each row's last token
        torch.testing.assert_close(
            out_left["encoder_hidden"][0], out_right["encoder_hidden"][0], atol=1e-5, rtol=0
        )
    # and a padded row encodes as the same sentence alone, without padding
    with torch.no_grad():
        alone = model.encoder(rows[1].unsqueeze(0))
    torch.testing.assert_close(
        _real_states(out_left, left.eq(kit.PAD))[1], alone["encoder_out"][0][:, 0], atol=1e-5, rtol=0
    )


@pytest.mark.parametrize("case", sorted(ENCODERS))
def test_what_sits_at_padded_positions_changes_nothing(case, kit, gen):
    vocab = 40
    model = _model(kit, case, vocab)
    src = kit.pad_rows(_rows(kit, gen, vocab), left=True)
    padding = src.eq(kit.PAD)
    prev = kit.random_tokens(src.size(0), 5, vocab, gen)
    with torch.no_grad():
        before_enc = model.encoder(src)
        before = model(src, None, prev)[0]
        # the padding embedding is zero and frozen by training; make it large to expose any leak
        model.encoder.embed_tokens.weight[kit.PAD] = 10 * torch.randn(
            model.encoder.embed_tokens.embedding_dim
        )
        after_enc = model.encoder(src)
        after = model(src, None, prev)[0]
    for a, b in zip(_real_states(before_enc, padding), _real_states(after_enc, padding)):
        assert torch.equal(a, b)
    assert torch.equal(before, after)


@pytest.mark.parametrize("case", ["transformer", "lstm"])
def test_decoder_output_depends_on_real_source_tokens(case, kit, gen):
    # guards the test above: changing a real source token must change the decoder output
    vocab = 40
    model = _model(kit, case, vocab)
    src = kit.pad_rows(_rows(kit, gen, vocab), left=True)
    prev = kit.random_tokens(src.size(0), 5, vocab, gen)
    changed = src.clone()
    changed[0, -1] = 4 if src[0, -1] != 4 else 5
    with torch.no_grad():
        a, b = model(src, None, prev)[0], model(changed, None, prev)[0]
    assert (a[0] - b[0]).abs().max() > 1e-6
    assert torch.equal(a[1:], b[1:])  # other rows are untouched


def test_language_model_left_padding_matches_unpadded_rows(kit, gen):
    vocab = 40
    model = kit.build("transformer_lm", kit.TinyTask(kit.TinyDictionary(vocab)), **kit.TINY_LM).eval()
    rows = _rows(kit, gen, vocab)
    for left in (True, False):
        batch = kit.pad_rows(rows, left=left)
        with torch.no_grad():
            logits = model(batch)[0]
            for i, row in enumerate(rows):
                alone = model(row.unsqueeze(0))[0][0]
                torch.testing.assert_close(logits[i][batch[i].ne(kit.PAD)], alone, atol=1e-5, rtol=0)


def test_decoder_right_padding_keeps_real_positions(kit, gen):
    # teacher forcing with right-padded targets (the usual batch) takes the unmasked causal path
    vocab = 40
    model = kit.build("transformer", kit.TinyTask(kit.TinyDictionary(vocab)), **kit.TINY_TRANSFORMER).eval()
    src = kit.random_tokens(3, 6, vocab, gen)
    prev_rows = [kit.random_tokens(1, n, vocab, gen)[0] for n in (7, 3, 5)]
    prev = kit.pad_rows(prev_rows, left=False)
    with torch.no_grad():
        logits = model(src, None, prev)[0]
        for i, row in enumerate(prev_rows):
            alone = model(src[i : i + 1], None, row.unsqueeze(0))[0][0]
            torch.testing.assert_close(logits[i, : len(row)], alone, atol=1e-5, rtol=0)
