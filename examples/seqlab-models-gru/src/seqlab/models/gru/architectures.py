"""The named architectures of the ``gru`` model."""

from __future__ import annotations

import dataclasses
from typing import Any

from seqlab.core import register_model_architecture

from .config import GRUConfig


@register_model_architecture("gru", "gru")
def base_architecture(args: Any) -> None:
    """The option dataclass's defaults: 256-unit bidirectional encoder, 512-unit decoder."""
    for f in dataclasses.fields(GRUConfig):
        if not hasattr(args, f.name):
            setattr(args, f.name, f.default)


@register_model_architecture("gru", "gru_small")
def gru_small(args: Any) -> None:
    """128-unit embeddings and encoder, 256-unit decoder."""
    args.encoder_embed_dim = getattr(args, "encoder_embed_dim", 128)
    args.encoder_hidden_size = getattr(args, "encoder_hidden_size", 128)
    args.decoder_embed_dim = getattr(args, "decoder_embed_dim", 128)
    args.decoder_hidden_size = getattr(args, "decoder_hidden_size", 256)
    base_architecture(args)


@register_model_architecture("gru", "gru_tiny")
def gru_tiny(args: Any) -> None:
    """32-unit embeddings and encoder, 64-unit decoder, no dropout: for demos and tests on a CPU."""
    args.dropout = getattr(args, "dropout", 0.0)
    args.encoder_embed_dim = getattr(args, "encoder_embed_dim", 32)
    args.encoder_hidden_size = getattr(args, "encoder_hidden_size", 32)
    args.decoder_embed_dim = getattr(args, "decoder_embed_dim", 32)
    args.decoder_hidden_size = getattr(args, "decoder_hidden_size", 64)
    base_architecture(args)
