"""The GRU encoder: a (bidirectional) multi-layer GRU over the source embeddings."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from seqlab.core import Encoder, SeqlabError

from .encoder_out import reorder_encoder_out


class GRUEncoder(Encoder):
    """Encode source tokens padded on either side; every state stays at its token's position."""

    def __init__(
        self,
        dictionary: Any,
        embed_tokens: nn.Embedding,
        hidden_size: int,
        num_layers: int,
        bidirectional: bool,
        dropout: float,
        max_source_positions: int,
    ) -> None:
        super().__init__(dictionary)
        self.embed_tokens = embed_tokens
        self.padding_idx = dictionary.pad()
        self.num_layers = num_layers
        self.directions = 2 if bidirectional else 1
        self.dropout = dropout
        self.max_source_positions = max_source_positions
        self.rnn = nn.GRU(
            embed_tokens.embedding_dim,
            hidden_size,
            num_layers=num_layers,
            batch_first=True,
            dropout=dropout if num_layers > 1 else 0.0,
            bidirectional=bidirectional,
        )
        self.output_units = hidden_size * self.directions

    def forward(
        self, src_tokens: torch.Tensor, src_lengths: torch.Tensor | None = None, **kwargs: Any
    ) -> dict[str, list[torch.Tensor]]:
        """Encode ``src_tokens`` (B x S) into the ``encoder_out`` dict."""
        bsz, seqlen = src_tokens.shape
        padding = src_tokens.eq(self.padding_idx)
        lengths = (~padding).sum(dim=1)
        if bool((lengths == 0).any()):
            raise SeqlabError(
                "the gru encoder got an empty source sentence; remove empty lines from the data"
            )
        # Packing wants every row's tokens first; a stable sort of the padding flags moves them
        # there whichever side the padding is on, and its inverse puts the states back.
        front = torch.sort(padding.to(torch.int8), dim=1, stable=True).indices
        x = self.embed_tokens(src_tokens.gather(1, front))
        x = F.dropout(x, self.dropout, training=self.training)
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        states, hidden = self.rnn(packed)
        states, _ = pad_packed_sequence(states, batch_first=True, total_length=seqlen)
        states = F.dropout(states, self.dropout, training=self.training)
        back = front.argsort(dim=1).unsqueeze(-1).expand_as(states)
        states = states.gather(1, back)
        # (layers * directions) x B x H -> layers x B x (directions * H), forward direction first
        hidden = (
            hidden.view(self.num_layers, self.directions, bsz, -1)
            .transpose(1, 2)
            .reshape(self.num_layers, bsz, -1)
        )
        return {
            "encoder_out": [states.transpose(0, 1)],
            "encoder_padding_mask": [padding],
            "encoder_hidden": [hidden],
            "src_lengths": [] if src_lengths is None else [src_lengths],
        }

    def reorder_encoder_out(self, encoder_out: dict[str, Any], new_order: torch.Tensor) -> dict[str, Any]:
        """Select and reorder the batch rows of ``encoder_out`` (beam search)."""
        return reorder_encoder_out(encoder_out, new_order)

    def max_positions(self) -> int:
        """The longest source this encoder accepts."""
        return self.max_source_positions
