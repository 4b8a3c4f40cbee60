"""The LSTM decoder with attention and input feeding (Luong et al., 2015).

Input feeding makes each step depend on the previous step's attentional output, so the
decoder necessarily runs its positions one after another, in training too; everything
that does not depend on the previous step (embeddings, output projection) runs over
all positions at once.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from seqlab.core import IncrementalDecoder, SeqlabError
from seqlab.core.incremental import IncrementalStateDict
from seqlab.models.modules import encoder_states

from .attention import AttentionLayer
from .init import lstm_linear, uniform_


class LSTMDecoder(IncrementalDecoder):
    """Stacked LSTM cells fed with the previous token and the previous attentional output."""

    def __init__(
        self,
        dictionary: Any,
        embed_tokens: nn.Embedding,
        hidden_size: int,
        out_embed_dim: int,
        num_layers: int,
        dropout_in: float,
        dropout_out: float,
        attention: bool,
        encoder_output_units: int,
        share_input_output_embed: bool,
        max_target_positions: int,
    ) -> None:
        super().__init__(dictionary)
        embed_dim = embed_tokens.embedding_dim
        self.embed_tokens = embed_tokens
        self.hidden_size = hidden_size
        self.dropout_in = dropout_in
        self.dropout_out = dropout_out
        self.share_input_output_embed = share_input_output_embed
        self.max_target_positions = max_target_positions
        self.encoder_hidden_proj: nn.Linear | None = None
        self.encoder_cell_proj: nn.Linear | None = None
        if encoder_output_units != hidden_size:
            self.encoder_hidden_proj = lstm_linear(encoder_output_units, hidden_size)
            self.encoder_cell_proj = lstm_linear(encoder_output_units, hidden_size)
        self.layers = nn.ModuleList(
            uniform_(nn.LSTMCell(hidden_size + embed_dim if i == 0 else hidden_size, hidden_size))
            for i in range(num_layers)
        )
        self.attention = AttentionLayer(hidden_size, encoder_output_units, hidden_size) if attention else None
        self.additional_fc = lstm_linear(hidden_size, out_embed_dim) if hidden_size != out_embed_dim else None
        self.fc_out = None if share_input_output_embed else lstm_linear(out_embed_dim, len(dictionary))

    def forward(
        self,
        prev_output_tokens: torch.Tensor,
        encoder_out: dict[str, Any] | None = None,
        incremental_state: IncrementalStateDict | None = None,
        features_only: bool = False,
        need_attn: bool = False,
        **kwargs: Any,
    ) -> tuple[torch.Tensor, dict[str, Any]]:
        """Return ``(logits B x T x V, extra)``; with ``incremental_state`` only the new positions'."""
        x, extra = self.extract_features(
            prev_output_tokens, encoder_out, incremental_state, need_attn=need_attn
        )
        return (x if features_only else self.output_layer(x)), extra

    def extract_features(
        self,
        prev_output_tokens: torch.Tensor,
        encoder_out: dict[str, Any] | None = None,
        incremental_state: IncrementalStateDict | None = None,
        need_attn: bool = False,
        **kwargs: Any,
    ) -> tuple[torch.Tensor, dict[str, Any]]:
        """Return ``(features B x T x C, {"attn": [B x T x S] or None})``."""
        if encoder_out is None:
            raise ValueError("the lstm decoder needs the encoder output (encoder_out)")
        total = prev_output_tokens.size(1)
        state = self.get_incremental_state(incremental_state, "state")
        if state is None:
            state = self._initial_state(encoder_out)
        elif state["length"] >= total:
            raise SeqlabError(
                f"incremental decoding got {total} tokens but has already decoded {state['length']}; pass "
                "every token so far (prev_output_tokens grows by one each step) or start a new incremental_state"
            )
        tokens = prev_output_tokens[:, state["length"] :]
        memory, padding = encoder_states(encoder_out)
        assert memory is not None

        x = F.dropout(self.embed_tokens(tokens), self.dropout_in, training=self.training)
        hiddens, cells, input_feed = list(state["hiddens"]), list(state["cells"]), state["input_feed"]
        outs, attns = [], []
        for j in range(tokens.size(1)):
            inp = torch.cat([x[:, j], input_feed], dim=1)
            for i, cell in enumerate(self.layers):
                hiddens[i], cells[i] = cell(inp, (hiddens[i], cells[i]))
                inp = F.dropout(hiddens[i], self.dropout_out, training=self.training)
            out = hiddens[-1]
            if self.attention is not None:
                out, weights = self.attention(out, memory, padding)
                attns.append(weights)
            input_feed = F.dropout(out, self.dropout_out, training=self.training)
            outs.append(input_feed)
        x = torch.stack(outs, dim=1)
        if self.additional_fc is not None:
            x = F.dropout(self.additional_fc(x), self.dropout_out, training=self.training)
        if incremental_state is not None:
            new_state = {"hiddens": hiddens, "cells": cells, "input_feed": input_feed, "length": total}
            self.set_incremental_state(incremental_state, "state", new_state)
        attn = [torch.stack(attns, dim=1)] if need_attn and attns else None
        return x, {"attn": attn}

    def _initial_state(self, encoder_out: dict[str, Any]) -> dict[str, Any]:
        hidden, cell = encoder_out["encoder_hidden"][0], encoder_out["encoder_cell"][0]
        hiddens = [hidden[i] for i in range(len(self.layers))]
        cells = [cell[i] for i in range(len(self.layers))]
        if self.encoder_hidden_proj is not None and self.encoder_cell_proj is not None:
            hiddens = [self.encoder_hidden_proj(h) for h in hiddens]
            cells = [self.encoder_cell_proj(c) for c in cells]
        input_feed = hidden.new_zeros(hidden.size(1), self.hidden_size)
        return {"hiddens": hiddens, "cells": cells, "input_feed": input_feed, "length": 0}

    def output_layer(self, features: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        """Project features to vocabulary logits."""
        if self.fc_out is None:
            return F.linear(features, self.embed_tokens.weight)
        return self.fc_out(features)

    def reorder_incremental_state(
        self, incremental_state: IncrementalStateDict, new_order: torch.Tensor
    ) -> None:
        """Reorder the recurrent state along the batch (beam search)."""
        state = self.get_incremental_state(incremental_state, "state")
        if state is None:
            return
        state["hiddens"] = [h.index_select(0, new_order) for h in state["hiddens"]]
        state["cells"] = [c.index_select(0, new_order) for c in state["cells"]]
        state["input_feed"] = state["input_feed"].index_select(0, new_order)

    def max_positions(self) -> int:
        """The longest target this decoder accepts."""
        return self.max_target_positions
