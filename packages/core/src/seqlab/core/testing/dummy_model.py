"""The smallest translation model, for checking criterions without any model package."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..model import BaseModel


class DummyTranslationModel(BaseModel):
    """Predicts each target token from the previous one and the mean of the source embeddings."""

    def __init__(self, source_dictionary: Any, target_dictionary: Any, dim: int = 8) -> None:
        super().__init__()
        self.src_pad = source_dictionary.pad()
        self.src_embed = nn.Embedding(len(source_dictionary), dim, padding_idx=self.src_pad)
        self.tgt_embed = nn.Embedding(len(target_dictionary), dim, padding_idx=target_dictionary.pad())
        self.out = nn.Linear(dim, len(target_dictionary))

    @classmethod
    def build_model(cls, args: Any, task: Any) -> DummyTranslationModel:
        """Build from the task's dictionaries."""
        return cls(task.source_dictionary, task.target_dictionary)

    def forward(
        self,
        src_tokens: torch.Tensor,
        src_lengths: torch.Tensor,
        prev_output_tokens: torch.Tensor,
        **kwargs: Any,
    ) -> tuple[torch.Tensor, dict[str, Any]]:
        """Return ``(logits B x T x V, {})``."""
        real = src_tokens.ne(self.src_pad).unsqueeze(-1)
        context = (self.src_embed(src_tokens) * real).sum(1) / real.sum(1).clamp(min=1)
        x = torch.tanh(self.tgt_embed(prev_output_tokens) + context.unsqueeze(1))
        return self.out(x), {}
