"""Under bf16 autocast on a CPU, attention that will be differentiated runs in fp32 (torch's bf16 backward is slow there)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from seqlab.models.modules.multihead_attention import CrossAttention, SelfAttention, attend


@pytest.fixture
def sdpa_dtypes(monkeypatch: pytest.MonkeyPatch) -> list[torch.dtype]:
    """The dtype of the queries of every ``scaled_dot_product_attention`` call."""
    seen: list[torch.dtype] = []
    real = F.scaled_dot_product_attention

    def spy(q: torch.Tensor, *args: object, **kwargs: object) -> torch.Tensor:
        seen.append(q.dtype)
        return real(q, *args, **kwargs)

    monkeypatch.setattr(F, "scaled_dot_product_attention", spy)
    return seen


def test_training_attention_in_bf16_autocast_computes_in_fp32(sdpa_dtypes: list[torch.dtype]) -> None:
    torch.manual_seed(0)
    self_attn, cross = SelfAttention(16, 2), CrossAttention(16, 2, 16)
    x = torch.randn(3, 5, 16, requires_grad=True)
    memory = torch.randn(3, 4, 16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        h = self_attn(x, is_causal=True)
        y, _ = cross(h, memory, attn_mask=torch.tensor([True, True, True, False]).view(1, 1, 1, 4))
    assert sdpa_dtypes == [torch.float32, torch.float32]
    assert h.dtype == y.dtype == torch.bfloat16  # what autocast's own attention would hand on
    y.float().sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


def test_inference_and_fp32_attention_keep_their_dtype(sdpa_dtypes: list[torch.dtype]) -> None:
    attn = SelfAttention(16, 2)
    x = torch.randn(2, 3, 16)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        attn(x, is_causal=True)  # bf16's forward alone is as fast as fp32's
    attn(x.requires_grad_(), is_causal=True)
    assert sdpa_dtypes == [torch.bfloat16, torch.float32]


def test_attend_equals_fp32_attention_of_the_same_bf16_inputs() -> None:
    torch.manual_seed(0)
    q, k, v = (torch.randn(2, 2, 4, 8).bfloat16().requires_grad_() for _ in range(3))
    mask = torch.rand(2, 1, 4, 4) > 0.3
    mask[..., 0] = True
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = attend(q, k, v, attn_mask=mask)
    want = F.scaled_dot_product_attention(q.float(), k.float(), v.float(), attn_mask=mask).bfloat16()
    assert torch.equal(got, want)
