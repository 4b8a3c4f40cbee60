"""--checkpoint-activations: the same gradients as an ordinary step, with far fewer tensors kept."""

from __future__ import annotations

import pytest
import torch

from seqlab.models.modules.activation_checkpointing import KEEP_ALL, OFFLOAD, RECOMPUTE, activation_mode

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


def _step(model: torch.nn.Module, inputs: tuple, mode: str) -> tuple[dict[str, torch.Tensor], int]:
    """Gradients of one training step (dropout seeded) and the bytes autograd kept outside checkpoints."""
    for stack in ("encoder", "decoder"):
        if hasattr(model, stack):
            getattr(model, stack).activation_mode = mode
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


@pytest.mark.parametrize("mode", [RECOMPUTE, OFFLOAD])
@pytest.mark.parametrize("arch", ["transformer", "transformer_lm"])
def test_checkpointed_layers_give_the_same_gradients_and_keep_less(arch, mode):
    torch.manual_seed(0)
    model = build(arch, TinyTask(TinyDictionary(40)), **SIZES[arch], **DROPOUTS).train()
    gen = torch.Generator().manual_seed(1)
    if arch == "transformer":
        inputs = (random_tokens(4, 9, 40, gen), None, random_tokens(4, 8, 40, gen))
    else:
        inputs = (random_tokens(4, 12, 40, gen),)
    plain, plain_kept = _step(model, inputs, KEEP_ALL)
    again, _ = _step(model, inputs, KEEP_ALL)
    assert all(torch.equal(plain[n], again[n]) for n in plain)  # the seeded step is repeatable
    checkpointed, checkpointed_kept = _step(model, inputs, mode)
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


def test_offload_activations_is_checkpointing_that_keeps_inputs_in_cpu_memory():
    from types import SimpleNamespace as Args

    assert activation_mode(Args()) == KEEP_ALL
    assert activation_mode(Args(checkpoint_activations=True)) == RECOMPUTE
    assert activation_mode(Args(offload_activations=True)) == OFFLOAD  # as fairseq: it implies checkpointing
    model = build(
        "transformer_lm", TinyTask(TinyDictionary(40)), **SIZES["transformer_lm"], offload_activations=True
    )
    assert model.decoder.activation_mode == OFFLOAD


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_offloaded_layer_inputs_leave_gpu_memory():
    torch.manual_seed(0)
    sizes = dict(
        decoder_layers=4, decoder_embed_dim=256, decoder_ffn_embed_dim=1024, decoder_attention_heads=4
    )
    model = build("transformer_lm", TinyTask(TinyDictionary(64)), **sizes).cuda().train()
    tokens = random_tokens(16, 256, 64, torch.Generator().manual_seed(1)).cuda()
    peaks = {}
    for mode in (RECOMPUTE, OFFLOAD):
        model.decoder.activation_mode = mode
        model.zero_grad(set_to_none=True)
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        start = torch.cuda.memory_allocated()
        out = model(tokens)[0]
        peaks[mode] = torch.cuda.memory_allocated() - start  # what the forward pass left on the GPU
        out.float().mean().backward()
    assert peaks[OFFLOAD] < peaks[RECOMPUTE]
