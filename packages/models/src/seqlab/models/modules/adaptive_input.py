"""Adaptive input embeddings (Baevski & Auli, 2019; fairseq's ``--adaptive-input``).

Each vocabulary band (:mod:`.adaptive_bands`) has its own embedding table of width
``initial_dim // factor**band``, projected to the model's width by a linear map without bias.
With ``--tie-adaptive-weights`` the adaptive softmax reuses these tables as its output
weights (and with ``--tie-adaptive-proj`` the projections too).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from seqlab.core import ConfigError

from .adaptive_bands import band_dim, parse_cutoffs


class AdaptiveInput(nn.Module):
    """Token ids to ``output_dim`` vectors, through one embedding table and projection per band."""

    def __init__(
        self,
        vocab_size: int,
        padding_idx: int,
        initial_dim: int,
        factor: float,
        output_dim: int,
        cutoffs: list[int],
    ) -> None:
        super().__init__()
        if cutoffs[-1] != vocab_size:
            raise ValueError(f"the last band must end at the vocabulary size {vocab_size}, not {cutoffs[-1]}")
        if padding_idx >= cutoffs[0]:
            raise ValueError(
                f"the padding index {padding_idx} must lie in the first band (below {cutoffs[0]})"
            )
        self.cutoffs = list(cutoffs)
        self.embedding_dim = output_dim
        self.padding_idx = padding_idx
        self.embeddings = nn.ModuleList()
        for band, (start, end) in enumerate(zip([0, *cutoffs[:-1]], cutoffs)):
            dim = band_dim(initial_dim, factor, band)
            table = nn.Embedding(end - start, dim, padding_idx=padding_idx if band == 0 else None)
            nn.init.normal_(table.weight, mean=0.0, std=dim**-0.5)
            if band == 0:
                nn.init.zeros_(table.weight[padding_idx])
            projection = nn.Linear(dim, output_dim, bias=False)
            nn.init.xavier_uniform_(projection.weight)
            self.embeddings.append(nn.Sequential(table, projection))

    def weights_for_band(self, band: int) -> tuple[nn.Parameter, nn.Parameter]:
        """``(embedding table, projection weight)`` of ``band`` (the adaptive softmax ties to them)."""
        table, projection = self.embeddings[band]
        return table.weight, projection.weight

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Embed ``tokens`` (any shape) into ``tokens.shape + (output_dim,)``."""
        flat = tokens.reshape(-1)
        weight = self.embeddings[0][1].weight
        out = weight.new_zeros(flat.numel(), self.embedding_dim)
        for band, (start, end) in enumerate(zip([0, *self.cutoffs[:-1]], self.cutoffs)):
            # a band without tokens still runs, on no rows: every parameter then gets a (zero)
            # gradient, which DistributedDataParallel needs without find_unused_parameters
            rows = ((flat >= start) & (flat < end)).nonzero().squeeze(1)
            vectors = self.embeddings[band](flat.index_select(0, rows) - start)
            out.index_copy_(0, rows, vectors.to(out.dtype))
        return out.view(*tokens.shape, self.embedding_dim)


def build_adaptive_input(args: Any, dictionary: Any, initial_dim: int, embed_dim: int) -> AdaptiveInput:
    """The ``--adaptive-input`` embeddings of ``dictionary`` (first band ``initial_dim`` wide, output ``embed_dim``)."""
    cutoffs = parse_cutoffs(
        getattr(args, "adaptive_input_cutoff", None), len(dictionary), "--adaptive-input-cutoff"
    )
    if dictionary.pad() >= cutoffs[0]:
        raise ConfigError(f"--adaptive-input-cutoff must start above the padding index {dictionary.pad()}")
    factor = float(getattr(args, "adaptive_input_factor", 4.0))
    if factor < 1:
        raise ConfigError(f"--adaptive-input-factor must be at least 1, not {factor:g}")
    return AdaptiveInput(len(dictionary), dictionary.pad(), initial_dim, factor, embed_dim, cutoffs)
