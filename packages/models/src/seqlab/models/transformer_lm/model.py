"""The ``transformer_lm`` decoder-only language model."""

from __future__ import annotations

from typing import Any

from torch import nn

from seqlab.core import LanguageModel, register_model
from seqlab.models.modules import TransformerDecoder, build_embedding
from seqlab.models.modules.adaptive_input import build_adaptive_input
from seqlab.models.modules.fairseq_weights import transformer_from_fairseq
from seqlab.models.modules.layer_drop import compile_units
from seqlab.models.modules.layer_pruning import layers_to_keep, prune_layers

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

    def compile_units(self) -> list[nn.Module] | None:
        """What ``--compile`` compiles: the whole model, or with LayerDrop each decoder layer."""
        return compile_units([self.decoder])

    def upgrade_state_dict(self, state_dict: dict[str, Any]) -> dict[str, Any]:
        """A checkpoint's weights for this model: a full stack's pruned to ``--decoder-layers-to-keep``."""
        state_dict = super().upgrade_state_dict(state_dict)
        flag = "--decoder-layers-to-keep"
        keep = layers_to_keep(getattr(self.args, "decoder_layers_to_keep", None), flag)
        return state_dict if keep is None else prune_layers(state_dict, "decoder.layers.", keep, flag)

    @classmethod
    def from_fairseq_state_dict(cls, state_dict: dict[str, Any], args: Any) -> dict[str, Any]:
        """fairseq's weights for this model under seqlab's names (``seq-import-fairseq``)."""
        return transformer_from_fairseq(state_dict, args)

    @classmethod
    def build_model(cls, args: Any, task: Any) -> TransformerLanguageModel:
        """Build from the flat ``args`` and the task's dictionary."""
        base_lm_architecture(args)
        keep = layers_to_keep(getattr(args, "decoder_layers_to_keep", None), "--decoder-layers-to-keep")
        if keep is not None:
            args.decoder_layers = len(keep)
        if getattr(args, "max_target_positions", None) is None:
            args.max_target_positions = (
                getattr(args, "tokens_per_sample", None) or DEFAULT_MAX_TARGET_POSITIONS
            )
        dictionary = task.target_dictionary
        input_dim = getattr(args, "decoder_input_dim", None) or args.decoder_embed_dim
        if args.adaptive_input:
            # fairseq's adaptive bands start input_dim wide and come out decoder_embed_dim wide
            embed_tokens: nn.Module = build_adaptive_input(
                args, dictionary, input_dim, args.decoder_embed_dim
            )
        else:
            embed_tokens = build_embedding(len(dictionary), input_dim, dictionary.pad())
        decoder = TransformerDecoder(args, dictionary, embed_tokens, no_encoder_attn=True)
        return cls(args, decoder)
