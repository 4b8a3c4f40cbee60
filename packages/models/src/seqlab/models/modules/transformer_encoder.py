"""The transformer encoder; its output is the ``encoder_out`` dict of :mod:`.encoder_out`."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from seqlab.core import Encoder
from seqlab.core.utils import make_positions

from .activation_checkpointing import activation_mode, run_layer
from .attention_masks import key_padding_mask
from .decode_merging import merge_encoder_out
from .dropout import dropout
from .encoder_out import reorder_encoder_out
from .layer_drop import check_layerdrop, kept_layers
from .positional_embedding import build_positional_embedding
from .transformer_layer import TransformerEncoderLayer


class TransformerEncoder(Encoder):
    """Token and position embeddings followed by ``--encoder-layers`` transformer layers."""

    def __init__(self, args: Any, dictionary: Any, embed_tokens: nn.Embedding) -> None:
        super().__init__(dictionary)
        embed_dim = embed_tokens.embedding_dim
        self.padding_idx = embed_tokens.padding_idx
        self.embed_tokens = embed_tokens
        self.embed_scale = 1.0 if args.no_scale_embedding else math.sqrt(embed_dim)
        self.max_source_positions = args.max_source_positions
        # None with --no-token-positional-embeddings: the model then sees the tokens as a bag
        self.embed_positions = build_positional_embedding(
            embed_dim,
            self.padding_idx,
            args.max_source_positions,
            args.encoder_learned_pos,
            "--max-source-positions",
            args,
        )
        self.layernorm_embedding = nn.LayerNorm(embed_dim) if args.layernorm_embedding else None
        self.dropout = args.dropout
        self.layers = nn.ModuleList(
            TransformerEncoderLayer(
                embed_dim,
                args.encoder_ffn_embed_dim,
                args.encoder_attention_heads,
                dropout=args.dropout,
                attention_dropout=args.attention_dropout,
                activation_dropout=args.activation_dropout,
                activation_fn=args.activation_fn,
                normalize_before=args.encoder_normalize_before,
            )
            for _ in range(args.encoder_layers)
        )
        self.layer_norm = nn.LayerNorm(embed_dim) if args.encoder_normalize_before else None
        self.layerdrop = check_layerdrop(getattr(args, "encoder_layerdrop", 0.0), "--encoder-layerdrop")
        self.activation_mode = activation_mode(args)

    def forward(
        self,
        src_tokens: torch.Tensor,
        src_lengths: torch.Tensor | None = None,
        return_all_hiddens: bool = False,
        **kwargs: Any,
    ) -> dict[str, list[torch.Tensor]]:
        """Encode ``src_tokens`` (B x T, padded on either side) into an ``encoder_out`` dict."""
        padding = src_tokens.eq(self.padding_idx)
        embedding = self.embed_scale * self.embed_tokens(src_tokens)
        x = embedding
        if self.embed_positions is not None:
            self.embed_positions.check_length(src_tokens.size(1))
            positions = self.embed_positions(make_positions(src_tokens, self.padding_idx))
            x = embedding + positions.to(embedding.dtype)
        if self.layernorm_embedding is not None:
            x = self.layernorm_embedding(x)
        x = dropout(x, self.dropout, self.training)
        attn_mask = key_padding_mask(padding)
        if attn_mask is not None:
            x = x.masked_fill(padding.unsqueeze(-1), 0.0)
        states = [x.transpose(0, 1)] if return_all_hiddens else []
        for layer in kept_layers(self.layers, self.layerdrop, self.training):
            x = run_layer(layer, self.activation_mode, x, attn_mask)
            if return_all_hiddens:
                states.append(x.transpose(0, 1))
        if self.layer_norm is not None:
            x = self.layer_norm(x)
        return {
            "encoder_out": [x.transpose(0, 1)],
            "encoder_padding_mask": [padding],
            "encoder_embedding": [embedding],
            "encoder_states": states,
            "src_tokens": [],
            "src_lengths": [] if src_lengths is None else [src_lengths],
        }

    def reorder_encoder_out(self, encoder_out: dict[str, Any], new_order: torch.Tensor) -> dict[str, Any]:
        """Select and reorder batch rows of ``encoder_out`` (one ``index_select`` per tensor)."""
        return reorder_encoder_out(encoder_out, new_order)

    def merge_encoder_out(self, first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
        """``first``'s rows then ``second``'s, padded to the longer source (beam search's tail merging)."""
        return merge_encoder_out(first, second)

    def max_positions(self) -> int:
        """The longest source this encoder accepts (``--max-source-positions``)."""
        return self.max_source_positions
