"""Token embeddings initialised as fairseq's, with the padding row at zero."""

from __future__ import annotations

from torch import nn


def build_embedding(num_embeddings: int, embedding_dim: int, padding_idx: int) -> nn.Embedding:
    """Return an embedding table drawn from N(0, dim^-0.5) whose padding row is zero."""
    emb = nn.Embedding(num_embeddings, embedding_dim, padding_idx=padding_idx)
    nn.init.normal_(emb.weight, mean=0.0, std=embedding_dim**-0.5)
    nn.init.constant_(emb.weight[padding_idx], 0.0)
    return emb
