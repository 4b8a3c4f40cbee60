"""Model base classes (fairseq's ``BaseFairseqModel`` family)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .decoder import Decoder, logits_of, normalize
from .encoder import Encoder
from .plugin_base import PluginOptions


class BaseModel(PluginOptions, nn.Module):
    """Base class for every model plugin."""

    def __init__(self) -> None:
        super().__init__()
        self._num_updates = 0

    @classmethod
    def build_model(cls, args: Any, task: Any) -> BaseModel:
        """Build the model from the flat ``args`` and the task (its dictionaries)."""
        raise NotImplementedError(f"{cls.__name__} must implement the classmethod build_model")

    def get_targets(self, sample: dict[str, Any], net_output: Any) -> torch.Tensor:
        """Return the targets the loss compares the output with."""
        return sample["target"]

    def get_normalized_probs(
        self, net_output: Any, log_probs: bool, sample: dict[str, Any] | None = None
    ) -> torch.Tensor:
        """Return (log-)probabilities: the decoder's if there is one, else from bare logits."""
        decoder = getattr(self, "decoder", None)
        if decoder is not None:
            return decoder.get_normalized_probs(net_output, log_probs, sample)
        return normalize(logits_of(net_output).float(), log_probs)

    def extract_features(self, *args: Any, **kwargs: Any) -> Any:
        """Return the features before the output projection."""
        return self(*args, **kwargs)

    def output_projection_weight(self) -> torch.Tensor | None:
        """``W`` where ``forward(..., features_only=True)`` returns ``(features x, extra)`` with logits ``x @ W.T``.

        None by default; the encoder-decoder and language models pass on their decoder's
        :meth:`~seqlab.core.decoder.Decoder.output_projection_weight` unless a subclass
        replaces ``forward``.
        """
        return None

    def max_positions(self) -> Any:
        """The longest inputs the model supports (None: no limit)."""
        return None

    def set_num_updates(self, num_updates: int) -> None:
        """Record the update count and pass it to every sub-module that tracks it."""
        self._num_updates = num_updates
        for m in self.modules():
            if m is not self and hasattr(m, "set_num_updates"):
                m.set_num_updates(num_updates)

    @property
    def num_updates(self) -> int:
        """Updates made so far (as told by the trainer)."""
        return self._num_updates

    def upgrade_state_dict(self, state_dict: dict[str, Any]) -> dict[str, Any]:
        """Upgrade a state dict from an older version of the model."""
        return self.upgrade_state_dict_named(state_dict, "")

    def upgrade_state_dict_named(self, state_dict: dict[str, Any], name: str) -> dict[str, Any]:
        """Let every sub-module upgrade its part of the state dict."""
        for child_name, child in self.named_modules():
            if child is not self and hasattr(child, "upgrade_state_dict_named"):
                prefix = f"{name}.{child_name}" if name else child_name
                child.upgrade_state_dict_named(state_dict, prefix)
        return state_dict

    def prepare_for_inference_(self, args: Any = None) -> None:
        """Switch to evaluation mode for generation."""
        self.eval()


class EncoderDecoderModel(BaseModel):
    """An encoder and a decoder: ``forward`` encodes the source then decodes with teacher forcing."""

    def __init__(self, encoder: Encoder, decoder: Decoder) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder

    def forward(
        self,
        src_tokens: torch.Tensor,
        src_lengths: torch.Tensor,
        prev_output_tokens: torch.Tensor,
        **kwargs: Any,
    ) -> Any:
        """Return the decoder's ``(logits, extra)`` for a batch."""
        encoder_out = self.encoder(src_tokens, src_lengths=src_lengths, **kwargs)
        return self.decoder(prev_output_tokens, encoder_out=encoder_out, **kwargs)

    def forward_decoder(self, prev_output_tokens: torch.Tensor, **kwargs: Any) -> Any:
        """Run only the decoder (generation)."""
        return self.decoder(prev_output_tokens, **kwargs)

    def extract_features(
        self,
        src_tokens: torch.Tensor,
        src_lengths: torch.Tensor,
        prev_output_tokens: torch.Tensor,
        **kwargs: Any,
    ) -> Any:
        """Return the decoder's features before the output projection."""
        encoder_out = self.encoder(src_tokens, src_lengths=src_lengths, **kwargs)
        return self.decoder.extract_features(prev_output_tokens, encoder_out=encoder_out, **kwargs)

    def output_layer(self, features: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        """Project decoder features to the vocabulary."""
        return self.decoder.output_layer(features, **kwargs)

    def output_projection_weight(self) -> torch.Tensor | None:
        """The decoder's output projection, where ``forward`` is this class's own (it passes ``features_only`` on)."""
        if type(self).forward is not EncoderDecoderModel.forward or not isinstance(self.decoder, Decoder):
            return None
        return self.decoder.output_projection_weight()

    def max_positions(self) -> tuple[int, int]:
        """``(source, target)`` maximum lengths."""
        return self.encoder.max_positions(), self.decoder.max_positions()

    def max_decoder_positions(self) -> int:
        """The longest target the decoder supports."""
        return self.decoder.max_positions()


class LanguageModel(BaseModel):
    """A decoder-only model: ``forward(src_tokens)`` predicts the next token at each position."""

    def __init__(self, decoder: Decoder) -> None:
        super().__init__()
        self.decoder = decoder

    def forward(self, src_tokens: torch.Tensor, **kwargs: Any) -> Any:
        """Return the decoder's ``(logits, extra)``."""
        return self.decoder(src_tokens, **kwargs)

    def forward_decoder(self, prev_output_tokens: torch.Tensor, **kwargs: Any) -> Any:
        """Run the decoder (generation)."""
        return self.decoder(prev_output_tokens, **kwargs)

    def extract_features(self, src_tokens: torch.Tensor, **kwargs: Any) -> Any:
        """Return the decoder's features before the output projection."""
        return self.decoder.extract_features(src_tokens, **kwargs)

    def output_layer(self, features: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        """Project features to the vocabulary."""
        return self.decoder.output_layer(features, **kwargs)

    def output_projection_weight(self) -> torch.Tensor | None:
        """The decoder's output projection, where ``forward`` is this class's own (it passes ``features_only`` on)."""
        if type(self).forward is not LanguageModel.forward or not isinstance(self.decoder, Decoder):
            return None
        return self.decoder.output_projection_weight()

    def max_positions(self) -> int:
        """The longest input the decoder supports."""
        return self.decoder.max_positions()

    def max_decoder_positions(self) -> int:
        """The longest input the decoder supports."""
        return self.decoder.max_positions()

    @property
    def supported_targets(self) -> set[str]:
        """Language models predict the next token."""
        return {"future"}


class EncoderModel(BaseModel):
    """An encoder alone (classification, tagging): ``forward`` returns the encoder output."""

    def __init__(self, encoder: Encoder) -> None:
        super().__init__()
        self.encoder = encoder

    def forward(
        self, src_tokens: torch.Tensor, src_lengths: torch.Tensor | None = None, **kwargs: Any
    ) -> Any:
        """Return the encoder's output."""
        return self.encoder(src_tokens, src_lengths=src_lengths, **kwargs)

    def max_positions(self) -> int:
        """The longest input the encoder supports."""
        return self.encoder.max_positions()
