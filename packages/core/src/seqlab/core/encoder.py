"""Encoder base class (fairseq's ``FairseqEncoder`` contract)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


class Encoder(nn.Module):
    """Base class for encoders: ``forward(src_tokens, src_lengths)`` returns an ``encoder_out``."""

    def __init__(self, dictionary: Any) -> None:
        super().__init__()
        self.dictionary = dictionary

    def forward(
        self, src_tokens: torch.Tensor, src_lengths: torch.Tensor | None = None, **kwargs: Any
    ) -> Any:
        """Encode a batch of source tokens (B x T)."""
        raise NotImplementedError(f"{type(self).__name__} must implement forward")

    def forward_torchscript(self, net_input: dict[str, Any]) -> Any:
        """Encode from a ``net_input`` dict."""
        return self.forward(net_input["src_tokens"], src_lengths=net_input.get("src_lengths"))

    def reorder_encoder_out(self, encoder_out: Any, new_order: torch.Tensor) -> Any:
        """Select and reorder the batch rows of ``encoder_out`` (beam search)."""
        raise NotImplementedError(f"{type(self).__name__} must implement reorder_encoder_out")

    def max_positions(self) -> int:
        """The longest input this encoder supports."""
        return int(1e6)

    def upgrade_state_dict_named(self, state_dict: dict[str, Any], name: str) -> dict[str, Any]:
        """Upgrade an old state dict in place (nothing to do by default)."""
        return state_dict

    def set_num_updates(self, num_updates: int) -> None:
        """Tell every sub-module that tracks it how many updates have been made."""
        for m in self.modules():
            if m is not self and hasattr(m, "set_num_updates"):
                m.set_num_updates(num_updates)
