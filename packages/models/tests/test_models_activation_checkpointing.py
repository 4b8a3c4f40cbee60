"""--checkpoint-activations: the same gradients as an ordinary step, with far fewer tensors kept."""

from __future__ import annotations

import pytest
import torch

from .conftest import TinyDictionary, TinyTask, build, random_tokens

DROPOUTS = {"dropout": 0.2, "attention_dropout": 0.1, "activation_dropout": 0.1}
SIZES = {
    "transformer": {
        **dict(encoder_layers=3, encoder_embed_dim=16, encoder_ffn_embed_dim=64, encoder_attention_heads=2),
        **dict(decoder_layers=3, decoder_embed_dim=16, decoder_ffn_embed_dim=64, decoder_attention_heads=2),
    },
    "transformer_lm": dict(
        decoder_layers=3, decoder_embed_dim=16, decoder_ffn_embed_dim=64, decoder_attention_heads=2
    ),
}


def _step(model: torch.nn.Module, inputs: tuple, checkpointed: bool) -> tuple[dict[str, torch.Tensor], int]:
    """Gradients of one training step (dropout seeded) and the bytes autograd kept outside checkpoints."""
    for stack in ("encoder", "decoder"):
        if hasattr(model, stack):
            getattr(model, stack).checkpoint_activations = checkpointed
    model.zero_grad(set_to_none=True)
    kept = [0]

    def pack(t: torch.Tensor) -> torch.Tensor:
        kept[0] += t.numel() * t.element_size()
        return t

    torch.manual_seed(5)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        lprobs = model.get_normalized_probs(model(*inputs), log_probs=True)
        loss = -lprobs[..., 4:].mean()
    loss.backward()
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}, kept[0]


@pytest.mark.parametrize("arch", ["transformer", "transformer_lm"])
def test_checkpointed_layers_give_the_same_gradients_and_keep_less(arch):
    torch.manual_seed(0)
    model = build(arch, TinyTask(TinyDictionary(40)), **SIZES[arch], **DROPOUTS).train()
    gen = torch.Generator().manual_seed(1)
    if arch == "transformer":
        inputs = (random_tokens(4, 9, 40, gen), None, random_tokens(4, 8, 40, gen))
    else:
        inputs = (random_tokens(4, 12, 40, gen),)
    plain, plain_kept = _step(model, inputs, checkpointed=False)
    again, _ = _step(model, inputs, checkpointed=False)
    assert all(torch.equal(plain[n], again[n]) for n in plain)  # the seeded step is repeatable
    checkpointed, checkpointed_kept = _step(model, inputs, checkpointed=True)
    assert plain.keys() == checkpointed.keys()
    for name in plain:  # dropout drew the same masks in the recomputation
        torch.testing.assert_close(checkpointed[name], plain[name], rtol=1e-6, atol=1e-7, msg=name)
    assert checkpointed_kept < plain_kept / 3, (checkpointed_kept, plain_kept)


def test_only_training_steps_that_record_gradients_are_checkpointed(monkeypatch):
    from seqlab.models.modules import activation_checkpointing

    calls = []
    real = activation_checkpointing.checkpoint
    monkeypatch.setattr(
        activation_checkpointing, "checkpoint", lambda *a, **k: calls.append(1) or real(*a, **k)
    )
    model = build(
        "transformer_lm", TinyTask(TinyDictionary(40)), **SIZES["transformer_lm"], checkpoint_activations=True
    )
    tokens = random_tokens(2, 6, 40, torch.Generator().manual_seed(2))
    model.train()(tokens)[0].sum().backward()
    assert len(calls) == 3  # one per layer
    with torch.no_grad():  # generation, --retain-dropout's included: incremental decoding runs plainly
        state: dict = {}
        for t in range(1, 7):
            model.decoder(tokens[:, :t], incremental_state=state)
    model.eval()(tokens)[0].sum().backward()  # evaluation keeps its activations as usual
    assert len(calls) == 3
