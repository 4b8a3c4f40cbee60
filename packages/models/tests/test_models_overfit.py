"""Each model can fit a small batch: the loss falls below a stated bound within seconds on CPU."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

#: mean token cross-entropy (nats) every model must reach; a uniform guess over 20 symbols is ~3.0
BOUND = 0.1
STEPS = 100

CASES = {
    "transformer": ("transformer", "TINY_TRANSFORMER", {"dropout": 0.0}),
    "transformer_lm": ("transformer_lm", "TINY_LM", {"dropout": 0.0}),
    "lstm": ("lstm", "TINY_LSTM", {"dropout": 0.0}),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_model_overfits_a_small_batch(case, kit, gen):
    arch, tiny, extra = CASES[case]
    vocab = 20
    model = kit.build(arch, kit.TinyTask(kit.TinyDictionary(vocab)), **getattr(kit, tiny), **extra).train()
    target = kit.pad_rows([kit.random_tokens(1, n, vocab, gen)[0] for n in (7, 5, 8, 6)], left=False)
    target[target.ne(kit.PAD).cumsum(1).eq(target.ne(kit.PAD).sum(1, keepdim=True)) & target.ne(kit.PAD)] = (
        kit.EOS
    )
    prev = torch.cat([torch.full((4, 1), kit.EOS), target[:, :-1]], dim=1)  # shifted right, as fairseq
    if arch == "transformer_lm":
        prev[:, 0] = torch.arange(4, 8)  # without a source, each row needs its own first token
    src = kit.pad_rows([kit.random_tokens(1, n, vocab, gen)[0] for n in (6, 9, 4, 7)], left=True)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)

    def loss() -> torch.Tensor:
        out = model(prev) if arch == "transformer_lm" else model(src, None, prev)
        lprobs = model.get_normalized_probs(out, log_probs=True)
        return F.nll_loss(lprobs.view(-1, vocab), target.view(-1), ignore_index=kit.PAD)

    first = loss().item()
    for _ in range(STEPS):
        optimizer.zero_grad()
        value = loss()
        value.backward()
        optimizer.step()
    assert first > 2.0
    assert value.item() < BOUND
