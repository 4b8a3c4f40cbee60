"""Decoder base classes (fairseq's ``FairseqDecoder`` and ``FairseqIncrementalDecoder``)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .incremental import IncrementalState, IncrementalStateDict


def logits_of(net_output: Any) -> torch.Tensor:
    """Return the logits of a net output: a bare tensor or a ``(logits, extra)`` tuple."""
    if torch.is_tensor(net_output):
        return net_output
    return net_output[0]


def normalize(logits: torch.Tensor, log_probs: bool) -> torch.Tensor:
    """Return (log-)probabilities over the last dimension, computed in fp32."""
    if log_probs:
        return F.log_softmax(logits, dim=-1, dtype=torch.float32)
    return F.softmax(logits, dim=-1, dtype=torch.float32)


class Decoder(nn.Module):
    """Base class for decoders: ``forward`` returns ``(logits, extra)``."""

    def __init__(self, dictionary: Any) -> None:
        super().__init__()
        self.dictionary = dictionary
        self.onnx_trace = False

    def forward(
        self,
        prev_output_tokens: torch.Tensor,
        encoder_out: Any = None,
        features_only: bool = False,
        **kwargs: Any,
    ) -> tuple[torch.Tensor, Any]:
        """Return ``(logits B x T x V, extra)`` for teacher-forced inputs (the features with ``features_only``)."""
        x, extra = self.extract_features(prev_output_tokens, encoder_out=encoder_out, **kwargs)
        return (x if features_only else self.output_layer(x)), extra

    def extract_features(
        self, prev_output_tokens: torch.Tensor, encoder_out: Any = None, **kwargs: Any
    ) -> tuple[torch.Tensor, Any]:
        """Return ``(features B x T x C, extra)``."""
        raise NotImplementedError(f"{type(self).__name__} must implement extract_features")

    def output_layer(self, features: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        """Project features to the vocabulary."""
        raise NotImplementedError(f"{type(self).__name__} must implement output_layer")

    def output_projection_weight(self) -> torch.Tensor | None:
        """``W`` where ``forward(..., features_only=True)`` returns features ``x`` whose logits are exactly ``x @ W.T``.

        None (the default) where the output layer is anything else. A loss that knows ``W``
        may project the features itself, block by block, instead of reading whole logits.
        """
        return None

    def get_normalized_probs(
        self, net_output: Any, log_probs: bool, sample: dict[str, Any] | None = None
    ) -> torch.Tensor:
        """Return (log-)probabilities from a net output (tensor or ``(logits, extra)``)."""
        return normalize(logits_of(net_output), log_probs)

    def normalizes_by_log_softmax(self) -> bool:
        """Whether :meth:`get_normalized_probs` is the plain (log-)softmax of the logits ``forward`` returns.

        Losses and beam search then start from the logits in fused passes. A decoder that
        overrides :meth:`get_normalized_probs` only for some configurations (an adaptive
        softmax, say) overrides this too.
        """
        return type(self).get_normalized_probs is Decoder.get_normalized_probs

    def max_positions(self) -> int:
        """The longest input this decoder supports."""
        return int(1e6)

    def upgrade_state_dict_named(self, state_dict: dict[str, Any], name: str) -> dict[str, Any]:
        """Upgrade an old state dict in place (nothing to do by default)."""
        return state_dict

    def prepare_for_onnx_export_(self) -> None:
        """Mark the decoder for ONNX tracing."""
        self.onnx_trace = True

    def set_num_updates(self, num_updates: int) -> None:
        """Tell every sub-module that tracks it how many updates have been made."""
        for m in self.modules():
            if m is not self and hasattr(m, "set_num_updates"):
                m.set_num_updates(num_updates)


class IncrementalDecoder(Decoder, IncrementalState):
    """A decoder that can decode one step at a time, caching the past in ``incremental_state``.

    ``forward(prev_output_tokens, encoder_out, incremental_state)`` receives all
    previous tokens but needs to compute only the last position's output.
    """

    #: True when, while decoding with ``incremental_state``, this decoder accepts an ``encoder_out``
    #: with one row per sentence for G decoder rows per sentence (consecutive rows, G the same for
    #: every sentence), and its cache follows a ``reorder_incremental_state`` that turns each row
    #: into G consecutive copies (after a first step decoded with one row per sentence), moves rows
    #: only within their sentence, or drops whole sentences. Beam search then keeps one copy of the
    #: encoder output per sentence instead of one per hypothesis, and decodes its first step once
    #: per sentence. False keeps fairseq's contract.
    supports_grouped_encoder_out: bool = False

    #: True when :meth:`merge_incremental_state` joins two decodes of the same step, given the
    #: encoder outputs joined by the encoder's ``merge_encoder_out`` (rows of the first decode,
    #: then the second's, sources padded to the longer one). Beam search then decodes the last
    #: sentences of a batch together with the next batch instead of on their own.
    supports_merged_decoding: bool = False

    def __init__(self, dictionary: Any) -> None:
        super().__init__(dictionary)
        self.init_incremental_state()

    def forward(
        self,
        prev_output_tokens: torch.Tensor,
        encoder_out: Any = None,
        incremental_state: IncrementalStateDict | None = None,
        features_only: bool = False,
        **kwargs: Any,
    ) -> tuple[torch.Tensor, Any]:
        """Return ``(logits, extra)``; with ``incremental_state`` only for the newest position."""
        x, extra = self.extract_features(
            prev_output_tokens, encoder_out=encoder_out, incremental_state=incremental_state, **kwargs
        )
        return (x if features_only else self.output_layer(x)), extra

    def extract_features(
        self,
        prev_output_tokens: torch.Tensor,
        encoder_out: Any = None,
        incremental_state: IncrementalStateDict | None = None,
        **kwargs: Any,
    ) -> tuple[torch.Tensor, Any]:
        """Return ``(features, extra)``, using and updating ``incremental_state``."""
        raise NotImplementedError(f"{type(self).__name__} must implement extract_features")

    def reorder_incremental_state(
        self, incremental_state: IncrementalStateDict, new_order: torch.Tensor
    ) -> None:
        """Reorder the cached state of every sub-module for a new batch order (beam search)."""
        for m in self._stateful_modules(incremental_state):
            m.reorder_incremental_state(incremental_state, new_order)

    def merge_incremental_state(
        self, incremental_state: IncrementalStateDict, other: IncrementalStateDict
    ) -> None:
        """Append the cached rows of ``other``, a decode of other sentences at the same step, after this one's.

        Used only where :attr:`supports_merged_decoding` is True. Every sub-module that keeps
        state (has ``reorder_incremental_state``) must have a ``merge_incremental_state`` too;
        a decoder that keeps state of its own extends this method.
        """
        for m in self._stateful_modules(incremental_state):
            merge = getattr(m, "merge_incremental_state", None)
            # a nested decoder inherits this method, which would skip its own state unless it says so
            if merge is None or not getattr(m, "supports_merged_decoding", True):
                raise TypeError(
                    f"{type(m).__name__} keeps decoding state but cannot merge it (it needs "
                    "merge_incremental_state, and supports_merged_decoding where it is a decoder); "
                    f"set supports_merged_decoding = False on {type(self).__name__}"
                )
            merge(incremental_state, other)

    def _stateful_modules(self, incremental_state: IncrementalStateDict) -> list[Any]:
        """The sub-modules with a ``reorder_incremental_state``, found once per decode."""
        # walking every sub-module with hasattr costs about 70 us for a 3-layer transformer, a few
        # percent of a one-sentence step; the state dict lives for one decode, so one walk serves it
        found = self.get_incremental_state(incremental_state, "reorder_modules")
        if found is None:
            modules = [m for m in self.modules() if m is not self and hasattr(m, "reorder_incremental_state")]
            found = {"modules": modules}
            self.set_incremental_state(incremental_state, "reorder_modules", found)
        return found["modules"]

    def reorder_incremental_state_scripting(
        self, incremental_state: IncrementalStateDict, new_order: torch.Tensor
    ) -> None:
        """fairseq's name for :meth:`reorder_incremental_state` on scripted models."""
        self.reorder_incremental_state(incremental_state, new_order)

    def set_beam_size(self, beam_size: int) -> None:
        """Tell sub-modules that care how wide the beam is."""
        if getattr(self, "_beam_size", -1) != beam_size:
            for m in self.modules():
                if m is not self and hasattr(m, "set_beam_size"):
                    m.set_beam_size(beam_size)
            self._beam_size = beam_size
