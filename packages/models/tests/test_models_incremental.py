"""Step-by-step incremental decoding matches a full forward pass, also across beam reorders."""

from __future__ import annotations

import pytest
import torch

#: fp32 on CPU: cached and full attention differ only by summation order
ATOL = 1e-5

ENC_DEC_CASES = {
    "transformer": ("transformer", {}),
    "transformer-prenorm-learned": (
        "transformer_wmt_en_de_big_t2t",
        {"encoder_learned_pos": True, "decoder_learned_pos": True, "layernorm_embedding": True},
    ),
    "transformer-shared": ("transformer", {"share_all_embeddings": True}),
    "lstm": ("lstm", {}),
    "lstm-bidirectional": ("lstm", {"encoder_bidirectional": True}),
    "lstm-no-attention": ("lstm", {"decoder_attention": "0", "decoder_out_embed_dim": 32}),
}


def _tiny(kit, arch: str) -> dict:
    return dict(kit.TINY_LSTM if arch.startswith("lstm") else kit.TINY_TRANSFORMER)


def _reorders(bsz: int, gen: torch.Generator) -> dict[int, torch.Tensor]:
    """Step -> new_order: a random permutation, then a beam-like pick that repeats and drops rows."""
    permutation = torch.randperm(bsz, generator=gen)
    pick = torch.tensor([3, 3, 0, 4, 1])
    return {2: permutation, 4: pick}


@pytest.mark.parametrize("case", sorted(ENC_DEC_CASES))
def test_encoder_decoder_incremental_matches_full_forward(case, kit, gen):
    arch, extra = ENC_DEC_CASES[case]
    vocab = 50
    options = {**_tiny(kit, arch), **extra}
    model = kit.build(arch, kit.TinyTask(kit.TinyDictionary(vocab)), **options).eval()
    src_rows = [kit.random_tokens(1, n, vocab, gen)[0] for n in (5, 9, 3, 7, 9, 6)]
    src = kit.pad_rows(src_rows, left=True)
    src_lengths = torch.tensor([len(r) for r in src_rows])
    bsz, steps = src.size(0), 8
    prev = torch.cat([torch.full((bsz, 1), kit.EOS), kit.random_tokens(bsz, steps - 1, vocab, gen)], dim=1)

    with torch.no_grad():
        full = model.get_normalized_probs(model(src, src_lengths, prev), log_probs=True)
        encoder_out = model.encoder(src, src_lengths=src_lengths)
        state: dict = {}
        rows = torch.arange(bsz)
        reorders = _reorders(bsz, gen)
        for t in range(steps):
            if t in reorders:
                order = reorders[t]
                model.decoder.reorder_incremental_state(state, order)
                encoder_out = model.encoder.reorder_encoder_out(encoder_out, order)
                rows = rows[order]
            out = model.decoder(prev[rows, : t + 1], encoder_out=encoder_out, incremental_state=state)
            assert out[0].shape == (len(rows), 1, vocab)  # only the new position is computed
            step = model.get_normalized_probs(out, log_probs=True)[:, -1]
            torch.testing.assert_close(step, full[rows, t], atol=ATOL, rtol=0)


@pytest.mark.parametrize("prompt", [1, 4], ids=["token-by-token", "prompt-at-once"])
@pytest.mark.parametrize("left_pad", [False, True], ids=["unpadded", "left-padded"])
def test_language_model_incremental_matches_full_forward(prompt, left_pad, kit, gen):
    vocab = 40
    model = kit.build("transformer_lm", kit.TinyTask(kit.TinyDictionary(vocab)), **kit.TINY_LM).eval()
    lengths = (9, 6, 9, 7) if left_pad else (9, 9, 9, 9)
    tokens = kit.pad_rows([kit.random_tokens(1, n, vocab, gen)[0] for n in lengths], left=True)
    real = tokens.ne(kit.PAD)
    bsz, steps = tokens.shape

    with torch.no_grad():
        full = model.get_normalized_probs(model(tokens), log_probs=True)
        state: dict = {}
        rows = torch.arange(bsz)
        reorders = {5: torch.randperm(bsz, generator=gen), 7: torch.tensor([2, 0, 0])}
        t = prompt
        out = model(tokens[:, :t], incremental_state=state)
        got = model.get_normalized_probs(out, log_probs=True)
        assert got.shape[1] == prompt
        _assert_real_close(got, full[:, :t], real[:, :t])
        while t < steps:
            if t in reorders:
                model.decoder.reorder_incremental_state(state, reorders[t])
                rows = rows[reorders[t]]
            out = model(tokens[rows, : t + 1], incremental_state=state)
            step = model.get_normalized_probs(out, log_probs=True)
            _assert_real_close(step, full[rows, t : t + 1], real[rows, t : t + 1])
            t += 1


def _assert_real_close(got: torch.Tensor, want: torch.Tensor, real: torch.Tensor) -> None:
    # padded positions predict nothing; every real position must match
    torch.testing.assert_close(got[real], want[real], atol=ATOL, rtol=0)


def test_incremental_state_rejects_tokens_it_has_already_decoded(kit, gen):
    from seqlab.core import SeqlabError

    model = kit.build("transformer_lm", kit.TinyTask(kit.TinyDictionary(20)), **kit.TINY_LM).eval()
    tokens = kit.random_tokens(2, 3, 20, gen)
    state: dict = {}
    with torch.no_grad():
        model(tokens, incremental_state=state)
        with pytest.raises(SeqlabError, match="every token so far"):
            model(tokens[:, -1:], incremental_state=state)


def test_need_attn_returns_alignment_weights_that_ignore_padding(kit, gen):
    vocab = 30
    model = kit.build("transformer", kit.TinyTask(kit.TinyDictionary(vocab)), **kit.TINY_TRANSFORMER).eval()
    src = kit.pad_rows([kit.random_tokens(1, n, vocab, gen)[0] for n in (4, 7)], left=True)
    prev = kit.random_tokens(2, 5, vocab, gen)
    with torch.no_grad():
        plain = model(src, None, prev)
        with_attn = model(src, None, prev, need_attn=True)
    assert plain[1]["attn"] is None
    (attn,) = with_attn[1]["attn"]
    assert attn.shape == (2, 5, 7)
    torch.testing.assert_close(attn.sum(-1), torch.ones(2, 5))
    assert torch.all(attn[0, :, :3] == 0)  # the left padding of the short row gets no weight
    torch.testing.assert_close(with_attn[0], plain[0], atol=1e-5, rtol=0)
