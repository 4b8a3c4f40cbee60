"""fp32, bf16 and fp16 on a CUDA GPU: finite losses and gradients, incremental decoding that agrees."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]

CASES = {
    "transformer": ("transformer", "TINY_TRANSFORMER"),
    "transformer_lm": ("transformer_lm", "TINY_LM"),
    "lstm": ("lstm", "TINY_LSTM"),
}
#: log-probability agreement between incremental and full decoding, by dtype
TOLERANCE = {torch.float32: 1e-4, torch.bfloat16: 0.1, torch.float16: 2e-2}
DTYPES = [torch.float32, torch.bfloat16, torch.float16]


def _model(kit, case: str, vocab: int, dtype: torch.dtype):
    arch, tiny = CASES[case]
    model = kit.build(arch, kit.TinyTask(kit.TinyDictionary(vocab)), **getattr(kit, tiny))
    return arch, model.to(device="cuda", dtype=dtype)


def _batch(kit, gen, vocab: int):
    src = kit.pad_rows([kit.random_tokens(1, n, vocab, gen)[0] for n in (6, 9, 4)], left=True).cuda()
    prev = torch.cat([torch.full((3, 1), kit.EOS), kit.random_tokens(3, 6, vocab, gen)], dim=1).cuda()
    return src, prev


def _forward(model, arch, src, prev, **kwargs):
    return model(prev, **kwargs) if arch == "transformer_lm" else model(src, None, prev, **kwargs)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("case", sorted(CASES))
def test_training_step_is_finite(case, dtype, kit, gen):
    vocab = 64
    arch, model = _model(kit, case, vocab, dtype)
    src, prev = _batch(kit, gen, vocab)
    lprobs = model.get_normalized_probs(_forward(model.train(), arch, src, prev), log_probs=True)
    assert lprobs.dtype == torch.float32  # normalised in fp32 whatever the model's dtype
    loss = F.nll_loss(lprobs.view(-1, vocab), prev.roll(-1, 1).view(-1))
    loss.backward()
    assert torch.isfinite(loss)
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("case", sorted(CASES))
def test_incremental_decoding_agrees_on_gpu(case, dtype, kit, gen):
    vocab = 64
    arch, model = _model(kit, case, vocab, dtype)
    model.eval()
    src, prev = _batch(kit, gen, vocab)
    with torch.inference_mode():
        full = model.get_normalized_probs(_forward(model, arch, src, prev), log_probs=True)
        encoder_out = None if arch == "transformer_lm" else model.encoder(src)
        state: dict = {}
        rows = torch.arange(3, device="cuda")
        for t in range(prev.size(1)):
            if t == 3:
                order = torch.tensor([2, 0, 0], device="cuda")
                model.decoder.reorder_incremental_state(state, order)
                if encoder_out is not None:
                    encoder_out = model.encoder.reorder_encoder_out(encoder_out, order)
                rows = rows[order]
            out = model.decoder(prev[rows, : t + 1], encoder_out=encoder_out, incremental_state=state)
            step = model.get_normalized_probs(out, log_probs=True)[:, -1]
            torch.testing.assert_close(step, full[rows, t], atol=TOLERANCE[dtype], rtol=0)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16], ids=str)
def test_transformer_under_autocast(dtype, kit, gen):
    vocab = 64
    _, model = _model(kit, "transformer", vocab, torch.float32)
    src, prev = _batch(kit, gen, vocab)
    with torch.autocast("cuda", dtype=dtype):
        logits, _ = model(src, None, prev)
    assert logits.dtype == dtype and torch.isfinite(logits).all()
