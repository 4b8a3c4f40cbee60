"""Transformer encoder and decoder layers (post-norm as in Vaswani et al., or pre-norm)."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from seqlab.core.incremental import IncrementalStateDict

from .activations import get_activation_fn
from .dropout import dropout, residual_dropout
from .multihead_attention import CrossAttention, SelfAttention


def _sublayer(
    layer: nn.Module, x: torch.Tensor, norm: nn.LayerNorm, block: Callable[[torch.Tensor], torch.Tensor]
) -> torch.Tensor:
    """Run ``block`` with dropout and a residual connection, normalising before or after."""
    h = norm(x) if layer.normalize_before else x
    x = residual_dropout(x, block(h), layer.dropout, layer.training)
    return x if layer.normalize_before else norm(x)


class FeedForward(nn.Module):
    """The position-wise feed-forward block: fc1, activation, dropout, fc2."""

    def __init__(self, embed_dim: int, ffn_dim: int, activation_fn: str, activation_dropout: float) -> None:
        super().__init__()
        self.fc1 = nn.Linear(embed_dim, ffn_dim)
        self.fc2 = nn.Linear(ffn_dim, embed_dim)
        self.activation = get_activation_fn(activation_fn)
        self.activation_dropout = activation_dropout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the block to ``x`` (... x C)."""
        x = self.fc1(x)
        # when decoding, ReLU overwrites fc1's output, which spares a B x T x ffn buffer and its
        # page faults; not under autograd, where fc1's output is a view and an in-place change
        # would make autograd copy it whole (measured 4 % slower training)
        x = x.relu_() if self.activation is F.relu and not x.requires_grad else self.activation(x)
        x = dropout(x, self.activation_dropout, self.training)
        return self.fc2(x)


class TransformerEncoderLayer(nn.Module):
    """Self-attention then feed-forward, each wrapped in dropout, residual and layer norm."""

    def __init__(
        self,
        embed_dim: int,
        ffn_dim: int,
        num_heads: int,
        *,
        dropout: float,
        attention_dropout: float,
        activation_dropout: float,
        activation_fn: str,
        normalize_before: bool,
    ) -> None:
        super().__init__()
        self.self_attn = SelfAttention(embed_dim, num_heads, attention_dropout, "--encoder-attention-heads")
        self.self_attn_layer_norm = nn.LayerNorm(embed_dim)
        self.ffn = FeedForward(embed_dim, ffn_dim, activation_fn, activation_dropout)
        self.final_layer_norm = nn.LayerNorm(embed_dim)
        self.dropout = dropout
        self.normalize_before = normalize_before

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None) -> torch.Tensor:
        """Encode ``x`` (B x T x C); ``attn_mask`` hides padded keys."""
        x = _sublayer(self, x, self.self_attn_layer_norm, lambda h: self.self_attn(h, attn_mask))
        return _sublayer(self, x, self.final_layer_norm, self.ffn)


class TransformerDecoderLayer(nn.Module):
    """Causal self-attention, encoder-decoder attention (unless decoder-only), feed-forward."""

    def __init__(
        self,
        embed_dim: int,
        ffn_dim: int,
        num_heads: int,
        *,
        dropout: float,
        attention_dropout: float,
        activation_dropout: float,
        activation_fn: str,
        normalize_before: bool,
        encoder_embed_dim: int | None,
    ) -> None:
        super().__init__()
        heads_flag = "--decoder-attention-heads"
        self.self_attn = SelfAttention(embed_dim, num_heads, attention_dropout, heads_flag)
        self.self_attn_layer_norm = nn.LayerNorm(embed_dim)
        self.encoder_attn: CrossAttention | None = None
        self.encoder_attn_layer_norm: nn.LayerNorm | None = None
        if encoder_embed_dim is not None:
            self.encoder_attn = CrossAttention(
                embed_dim, num_heads, encoder_embed_dim, attention_dropout, heads_flag
            )
            self.encoder_attn_layer_norm = nn.LayerNorm(embed_dim)
        self.ffn = FeedForward(embed_dim, ffn_dim, activation_fn, activation_dropout)
        self.final_layer_norm = nn.LayerNorm(embed_dim)
        self.dropout = dropout
        self.normalize_before = normalize_before

    def forward(
        self,
        x: torch.Tensor,
        *,
        self_attn_mask: torch.Tensor | None,
        is_causal: bool,
        memory: torch.Tensor | None = None,
        memory_mask: torch.Tensor | None = None,
        incremental_state: IncrementalStateDict | None = None,
        need_attn: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Decode ``x`` (B x T x C); return the output and, if asked, the encoder attention weights."""
        x = _sublayer(
            self,
            x,
            self.self_attn_layer_norm,
            lambda h: self.self_attn(h, self_attn_mask, is_causal, incremental_state),
        )
        attn = None
        if self.encoder_attn is not None and self.encoder_attn_layer_norm is not None:
            residual = x
            h = self.encoder_attn_layer_norm(x) if self.normalize_before else x
            h, attn = self.encoder_attn(h, memory, memory_mask, incremental_state, need_attn)
            x = residual_dropout(residual, h, self.dropout, self.training)
            if not self.normalize_before:
                x = self.encoder_attn_layer_norm(x)
        return _sublayer(self, x, self.final_layer_norm, self.ffn), attn
