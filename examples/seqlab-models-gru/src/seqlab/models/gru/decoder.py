"""The GRU decoder: a GRU over the target prefix, attention over the source, then the vocabulary.

Attention reads the GRU's output rather than feeding back into its input, so in training
the GRU runs over all target positions in one call. For generation the cache is the GRU's
hidden state after the tokens decoded so far: it lives in ``incremental_state`` and
``reorder_incremental_state`` reorders it along the batch when a beam search does.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from seqlab.core import IncrementalDecoder, SeqlabError

from .attention import BilinearAttention


class GRUDecoder(IncrementalDecoder):
    """Stacked GRU started from the encoder's final state, with attention over the encoder states."""

    def __init__(
        self,
        dictionary: Any,
        embed_tokens: nn.Embedding,
        hidden_size: int,
        num_layers: int,
        encoder_output_units: int,
        attention: bool,
        dropout: float,
        share_input_output_embed: bool,
        max_target_positions: int,
    ) -> None:
        super().__init__(dictionary)
        embed_dim = embed_tokens.embedding_dim
        self.embed_tokens = embed_tokens
        self.num_layers = num_layers
        self.dropout = dropout
        self.max_target_positions = max_target_positions
        self.init_state = nn.Linear(encoder_output_units, hidden_size)
        self.rnn = nn.GRU(
            embed_dim,
            hidden_size,
            num_layers=num_layers,
            batch_first=True,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        self.attention = BilinearAttention(hidden_size, encoder_output_units) if attention else None
        combined = hidden_size + (encoder_output_units if attention else 0)
        # features come out at the embedding size, so the output projection can be the embeddings
        self.combine = nn.Linear(combined, embed_dim)
        self.output_projection = None if share_input_output_embed else nn.Linear(embed_dim, len(dictionary))

    def forward(
        self,
        prev_output_tokens: torch.Tensor,
        encoder_out: dict[str, Any] | None = None,
        incremental_state: dict[str, Any] | None = None,
        features_only: bool = False,
        need_attn: bool = False,
        **kwargs: Any,
    ) -> tuple[torch.Tensor, dict[str, Any]]:
        """Return ``(logits B x T x V, extra)``; with ``incremental_state`` only for the new positions."""
        x, extra = self.extract_features(
            prev_output_tokens, encoder_out, incremental_state, need_attn=need_attn
        )
        return (x if features_only else self.output_layer(x)), extra

    def extract_features(
        self,
        prev_output_tokens: torch.Tensor,
        encoder_out: dict[str, Any] | None = None,
        incremental_state: dict[str, Any] | None = None,
        need_attn: bool = False,
        **kwargs: Any,
    ) -> tuple[torch.Tensor, dict[str, Any]]:
        """Return ``(features B x T x C, {"attn": [B x T x S] or None})``."""
        if encoder_out is None:
            raise ValueError("the gru decoder needs the encoder output (encoder_out)")
        total = prev_output_tokens.size(1)
        cache = self.get_incremental_state(incremental_state, "rnn")
        if cache is None:
            seen, hidden = 0, self._initial_state(encoder_out)
        else:
            seen, hidden = cache["length"], cache["hidden"]
            if seen >= total:
                raise SeqlabError(
                    f"incremental decoding got {total} tokens but has already decoded {seen}; pass every "
                    "token so far (prev_output_tokens grows by one each step) or start a new incremental_state"
                )
        x = F.dropout(self.embed_tokens(prev_output_tokens[:, seen:]), self.dropout, training=self.training)
        x, hidden = self.rnn(x, hidden)
        if incremental_state is not None:
            self.set_incremental_state(incremental_state, "rnn", {"hidden": hidden, "length": total})
        x = F.dropout(x, self.dropout, training=self.training)

        attn = None
        if self.attention is not None:
            memory = encoder_out["encoder_out"][0].transpose(0, 1)
            context, attn = self.attention(x, memory, encoder_out["encoder_padding_mask"][0])
            x = torch.cat([x, context], dim=-1)
        x = F.dropout(torch.tanh(self.combine(x)), self.dropout, training=self.training)
        return x, {"attn": [attn] if need_attn and attn is not None else None}

    def _initial_state(self, encoder_out: dict[str, Any]) -> torch.Tensor:
        # the encoder's top-layer final state starts every decoder layer, whatever the layer counts
        final = encoder_out["encoder_hidden"][0][-1]
        return torch.tanh(self.init_state(final)).unsqueeze(0).expand(self.num_layers, -1, -1).contiguous()

    def output_layer(self, features: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        """Project features to vocabulary logits."""
        if self.output_projection is None:
            return F.linear(features, self.embed_tokens.weight)
        return self.output_projection(features)

    def reorder_incremental_state(self, incremental_state: dict[str, Any], new_order: torch.Tensor) -> None:
        """Reorder the cached hidden state along the batch (beam search)."""
        cache = self.get_incremental_state(incremental_state, "rnn")
        if cache is not None:
            cache["hidden"] = cache["hidden"].index_select(1, new_order)

    def max_positions(self) -> int:
        """The longest target this decoder accepts."""
        return self.max_target_positions
