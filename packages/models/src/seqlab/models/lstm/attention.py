"""Global attention of the LSTM decoder (Luong et al., 2015, "general" scoring)."""

from __future__ import annotations

import torch
from torch import nn

from .init import lstm_linear


class AttentionLayer(nn.Module):
    """Score encoder states against a projected query; mix the context with the query through tanh."""

    def __init__(
        self, input_embed_dim: int, source_embed_dim: int, output_embed_dim: int, bias: bool = False
    ):
        super().__init__()
        self.input_proj = lstm_linear(input_embed_dim, source_embed_dim, bias=bias)
        self.output_proj = lstm_linear(input_embed_dim + source_embed_dim, output_embed_dim, bias=bias)

    def forward(
        self, query: torch.Tensor, memory: torch.Tensor, padding: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Attend from ``query`` (B x C) over ``memory`` (B x S x C'); return output and weights (B x S)."""
        projected = self.input_proj(query)
        scores = torch.bmm(memory, projected.unsqueeze(2)).squeeze(2).float()
        if padding is not None:
            scores = scores.masked_fill(padding, float("-inf"))
        weights = torch.softmax(scores, dim=-1).type_as(memory)
        context = torch.bmm(weights.unsqueeze(1), memory).squeeze(1)
        return torch.tanh(self.output_proj(torch.cat([context, query], dim=1))), weights
