"""The LSTM encoder: a (bidirectional) multi-layer LSTM over the source embeddings."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from seqlab.core import Encoder, SeqlabError
from seqlab.models.modules import reorder_encoder_out

from .init import uniform_


class LSTMEncoder(Encoder):
    """Encode source tokens (padded on either side); outputs stay aligned with the input positions."""

    def __init__(
        self,
        dictionary: Any,
        embed_tokens: nn.Embedding,
        hidden_size: int,
        num_layers: int,
        dropout_in: float,
        dropout_out: float,
        bidirectional: bool,
        max_source_positions: int,
    ) -> None:
        super().__init__(dictionary)
        self.embed_tokens = embed_tokens
        self.padding_idx = embed_tokens.padding_idx
        self.num_layers = num_layers
        self.bidirectional = bidirectional
        self.dropout_in = dropout_in
        self.dropout_out = dropout_out
        self.max_source_positions = max_source_positions
        self.lstm = uniform_(
            nn.LSTM(
                embed_tokens.embedding_dim,
                hidden_size,
                num_layers=num_layers,
                dropout=dropout_out if num_layers > 1 else 0.0,
                bidirectional=bidirectional,
                batch_first=True,
            )
        )
        self.output_units = hidden_size * (2 if bidirectional else 1)

    def forward(
        self, src_tokens: torch.Tensor, src_lengths: torch.Tensor | None = None, **kwargs: Any
    ) -> dict[str, list[torch.Tensor]]:
        """Encode ``src_tokens`` (B x T) into the ``encoder_out`` dict (with final hidden and cell states)."""
        bsz, seqlen = src_tokens.shape
        padding = src_tokens.eq(self.padding_idx)
        # Lengths come from the tokens, not src_lengths, so padding on either side works;
        # packing needs them on the host anyway (one sync).
        lengths = (~padding).sum(dim=1).cpu()
        if bool((lengths == 0).any()):
            raise SeqlabError(
                "the lstm encoder got an empty source sentence; remove empty lines from the data"
            )
        padded = bool((lengths < seqlen).any())
        tokens, restore = src_tokens, None
        if padded:
            # move every row's tokens to the front (stable), run packed, then put outputs back
            order = torch.sort(padding.int(), dim=1, stable=True).indices
            tokens = src_tokens.gather(1, order)
            restore = order.argsort(dim=1)

        x = F.dropout(self.embed_tokens(tokens), self.dropout_in, training=self.training)
        if padded:
            packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
            packed_out, (hidden, cell) = self.lstm(packed)
            x, _ = pad_packed_sequence(packed_out, batch_first=True, total_length=seqlen)
        else:
            x, (hidden, cell) = self.lstm(x)
        x = F.dropout(x, self.dropout_out, training=self.training)
        if restore is not None:
            x = x.gather(1, restore.unsqueeze(-1).expand_as(x))
        if self.bidirectional:
            hidden, cell = self._combine_directions(hidden), self._combine_directions(cell)
        return {
            "encoder_out": [x.transpose(0, 1)],
            "encoder_padding_mask": [padding],
            "encoder_hidden": [hidden],
            "encoder_cell": [cell],
            "src_tokens": [],
            "src_lengths": [] if src_lengths is None else [src_lengths],
        }

    def _combine_directions(self, state: torch.Tensor) -> torch.Tensor:
        # (layers * 2) x B x C -> layers x B x 2C, forward state first
        bsz = state.size(1)
        return state.view(self.num_layers, 2, bsz, -1).transpose(1, 2).reshape(self.num_layers, bsz, -1)

    def reorder_encoder_out(self, encoder_out: dict[str, Any], new_order: torch.Tensor) -> dict[str, Any]:
        """Select and reorder batch rows of ``encoder_out`` (one ``index_select`` per tensor)."""
        return reorder_encoder_out(encoder_out, new_order)

    def max_positions(self) -> int:
        """The longest source this encoder accepts."""
        return self.max_source_positions
