"""Positional embeddings: fairseq's sinusoidal table (computed once, grown on demand) and learned positions.

Positions come from :func:`seqlab.core.utils.make_positions`: the non-pad tokens of a
row are numbered from ``padding_idx + 1`` whatever side the row is padded on, so a
left-padded and a right-padded batch see the same positions, and the padding itself
gets the (zero) padding position.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from seqlab.core import SeqlabError


class SinusoidalPositionalEmbedding(nn.Module):
    """fairseq's sinusoidal positions (sines then cosines), zero at ``padding_idx``; no parameters."""

    def __init__(self, embedding_dim: int, padding_idx: int, max_positions: int) -> None:
        super().__init__()
        self.embedding_dim = embedding_dim
        self.padding_idx = padding_idx
        self.max_positions = max_positions
        # a cache, not a buffer: it stays out of checkpoints and grows with the longest input seen
        self._table = torch.empty(0, embedding_dim)

    def sinusoids(self, positions: torch.Tensor) -> torch.Tensor:
        """The fp32 embeddings of ``positions``, computed (padding not zeroed)."""
        half = self.embedding_dim // 2
        scale = math.log(10000) / max(half - 1, 1)
        freqs = torch.exp(torch.arange(half, device=positions.device, dtype=torch.float32) * -scale)
        angles = positions.unsqueeze(-1).float() * freqs
        emb = torch.cat([torch.sin(angles), torch.cos(angles)], dim=-1)
        return nn.functional.pad(emb, (0, 1)) if self.embedding_dim % 2 else emb

    def forward(self, positions: torch.Tensor) -> torch.Tensor:
        """Return the embeddings (float32, ``positions.shape + (dim,)``) of integer positions."""
        # fp32 whatever the model's dtype, so angles of far positions stay exact under fp16
        if positions.device.type != "cpu" or positions.numel() == 0 or torch.compiler.is_compiling():
            # computed where they are needed: sizing a table would wait for the device
            # (positions.max()), and under torch.compile would split the graph
            emb = self.sinusoids(positions)
            return emb.masked_fill(positions.eq(self.padding_idx).unsqueeze(-1), 0.0)
        size = int(positions.max()) + 1
        if self._table.size(0) < size:  # on a CPU a lookup is cheaper than sines and cosines
            table = self.sinusoids(torch.arange(max(size, 2 * self._table.size(0), 256)))
            if self.padding_idx < table.size(0):
                table[self.padding_idx] = 0.0
            self._table = table
        return nn.functional.embedding(positions, self._table)

    def check_length(self, length: int) -> None:
        """Accept any length: sinusoids extend to every position (the task filters by --max-*-positions)."""


class LearnedPositionalEmbedding(nn.Embedding):
    """Learned positions for up to ``max_positions`` tokens (fairseq's table layout)."""

    def __init__(self, max_positions: int, embedding_dim: int, padding_idx: int, flag: str) -> None:
        super().__init__(max_positions + padding_idx + 1, embedding_dim, padding_idx=padding_idx)
        self.max_positions = max_positions
        self.flag = flag
        nn.init.normal_(self.weight, mean=0.0, std=embedding_dim**-0.5)
        nn.init.constant_(self.weight[padding_idx], 0.0)

    def check_length(self, length: int) -> None:
        """Raise a clear error for an input longer than the table (a shape check, no GPU sync)."""
        if length > self.max_positions:
            raise SeqlabError(
                f"an input of {length} tokens is longer than the {self.max_positions} learned positions; "
                f"raise {self.flag} (and retrain) or filter longer inputs"
            )


def build_positional_embedding(
    embedding_dim: int, padding_idx: int, max_positions: int, learned: bool, flag: str, args: Any = None
) -> SinusoidalPositionalEmbedding | LearnedPositionalEmbedding | None:
    """Return learned or sinusoidal positions; ``flag`` names the option that sets their number.

    None when ``args`` asks for ``--no-token-positional-embeddings``.
    """
    if getattr(args, "no_token_positional_embeddings", False):
        return None
    if learned:
        return LearnedPositionalEmbedding(max_positions, embedding_dim, padding_idx, flag)
    return SinusoidalPositionalEmbedding(embedding_dim, padding_idx, max_positions)
