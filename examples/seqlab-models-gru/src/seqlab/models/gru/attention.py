"""Attention of the GRU decoder over the encoder states (Luong's "general" score)."""

from __future__ import annotations

import torch
from torch import nn


class BilinearAttention(nn.Module):
    """Score every encoder state ``m`` against a query ``q`` as ``q W m``; padding gets no weight."""

    def __init__(self, query_dim: int, memory_dim: int) -> None:
        super().__init__()
        self.proj = nn.Linear(query_dim, memory_dim, bias=False)

    def forward(
        self, query: torch.Tensor, memory: torch.Tensor, padding: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Attend from ``query`` (B x T x Q) over ``memory`` (B x S x M): contexts B x T x M, weights B x T x S."""
        scores = torch.bmm(self.proj(query), memory.transpose(1, 2)).float()
        if padding is not None:
            scores = scores.masked_fill(padding.unsqueeze(1), float("-inf"))
        weights = torch.softmax(scores, dim=-1).type_as(memory)
        return torch.bmm(weights, memory), weights
