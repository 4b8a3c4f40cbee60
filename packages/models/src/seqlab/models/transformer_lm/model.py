"""The ``transformer_lm`` decoder-only language model."""

from __future__ import annotations

from typing import Any

from seqlab.core import LanguageModel, register_model
from seqlab.models.modules import TransformerDecoder, build_embedding

from .architectures import base_lm_architecture
from .config import TransformerLanguageModelConfig

#: fairseq's default for --tokens-per-sample, used when neither it nor --max-target-positions is set
DEFAULT_MAX_TARGET_POSITIONS = 1024


@register_model("transformer_lm", dataclass=TransformerLanguageModelConfig)
class TransformerLanguageModel(LanguageModel):
    """A causal transformer decoder: ``forward(src_tokens)`` predicts each next token."""

    def __init__(self, args: Any, decoder: TransformerDecoder) -> None:
        super().__init__(decoder)
        self.args = args
        # LayerDrop leaves the skipped layers' parameters without a gradient in a step
        self.find_unused_parameters = decoder.layerdrop > 0

    @classmethod
    def build_model(cls, args: Any, task: Any) -> TransformerLanguageModel:
        """Build from the flat ``args`` and the task's dictionary."""
        base_lm_architecture(args)
        if getattr(args, "max_target_positions", None) is None:
            args.max_target_positions = (
                getattr(args, "tokens_per_sample", None) or DEFAULT_MAX_TARGET_POSITIONS
            )
        dictionary = task.target_dictionary
        embed_tokens = build_embedding(len(dictionary), args.decoder_embed_dim, dictionary.pad())
        decoder = TransformerDecoder(args, dictionary, embed_tokens, no_encoder_attn=True)
        return cls(args, decoder)
