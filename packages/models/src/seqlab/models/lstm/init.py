"""fairseq's LSTM initialisation: every weight and bias uniform in [-0.1, 0.1], padding row zero."""

from __future__ import annotations

from torch import nn

#: the bound of fairseq's uniform initialisation of LSTM models
INIT_RANGE = 0.1


def lstm_embedding(num_embeddings: int, embedding_dim: int, padding_idx: int) -> nn.Embedding:
    """Return an embedding table with fairseq's LSTM initialisation."""
    emb = nn.Embedding(num_embeddings, embedding_dim, padding_idx=padding_idx)
    nn.init.uniform_(emb.weight, -INIT_RANGE, INIT_RANGE)
    nn.init.constant_(emb.weight[padding_idx], 0.0)
    return emb


def lstm_linear(in_features: int, out_features: int, bias: bool = True) -> nn.Linear:
    """Return a linear layer with fairseq's LSTM initialisation."""
    linear = nn.Linear(in_features, out_features, bias=bias)
    uniform_(linear)
    return linear


def uniform_(module: nn.Module) -> nn.Module:
    """Initialise every parameter of ``module`` uniformly in [-0.1, 0.1]."""
    for param in module.parameters():
        nn.init.uniform_(param, -INIT_RANGE, INIT_RANGE)
    return module
