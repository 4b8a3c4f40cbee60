"""The ``transformer`` encoder-decoder model."""

from __future__ import annotations

from typing import Any

from torch import nn

from seqlab.core import EncoderDecoderModel, register_model
from seqlab.models.modules import (
    TransformerDecoder,
    TransformerEncoder,
    build_embedding,
    check_share_all_embeddings,
)
from seqlab.models.modules.fairseq_weights import transformer_from_fairseq
from seqlab.models.modules.layer_drop import compile_units
from seqlab.models.modules.layer_pruning import layers_to_keep, prune_layers
from seqlab.models.modules.pretrained_embeddings import check_shared_paths, load_pretrained

from .architectures import base_architecture
from .config import TransformerConfig


@register_model("transformer", dataclass=TransformerConfig)
class TransformerModel(EncoderDecoderModel):
    """Transformer encoder-decoder (Vaswani et al., 2017) with fairseq's options and layout."""

    def __init__(self, args: Any, encoder: TransformerEncoder, decoder: TransformerDecoder) -> None:
        super().__init__(encoder, decoder)
        self.args = args
        # LayerDrop leaves the skipped layers' parameters without a gradient in a step
        self.find_unused_parameters = encoder.layerdrop > 0 or decoder.layerdrop > 0

    @classmethod
    def build_model(cls, args: Any, task: Any) -> TransformerModel:
        """Build from the flat ``args`` and the task's source and target dictionaries."""
        base_architecture(args)  # fill what neither the arch nor the user set (e.g. args built by hand)
        for stack in ("encoder", "decoder"):
            keep = layers_to_keep(getattr(args, f"{stack}_layers_to_keep", None), f"--{stack}-layers-to-keep")
            if keep is not None:
                setattr(args, f"{stack}_layers", len(keep))
        src_dict, tgt_dict = task.source_dictionary, task.target_dictionary
        if args.share_all_embeddings:
            check_share_all_embeddings(args, src_dict, tgt_dict)
            check_shared_paths(args)
            encoder_embed = cls.build_embedding(args, src_dict, args.encoder_embed_dim)
            decoder_embed = encoder_embed
            args.share_decoder_input_output_embed = True
        else:
            encoder_embed = cls.build_embedding(args, src_dict, args.encoder_embed_dim)
            decoder_embed = cls.build_embedding(args, tgt_dict, args.decoder_embed_dim)
            if getattr(args, "decoder_embed_path", None):
                load_pretrained(decoder_embed, args.decoder_embed_path, tgt_dict, "--decoder-embed-path")
        if getattr(args, "encoder_embed_path", None):
            load_pretrained(encoder_embed, args.encoder_embed_path, src_dict, "--encoder-embed-path")
        encoder = TransformerEncoder(args, src_dict, encoder_embed)
        decoder = TransformerDecoder(args, tgt_dict, decoder_embed)
        return cls(args, encoder, decoder)

    def compile_units(self) -> list[nn.Module] | None:
        """What ``--compile`` compiles: the whole model, or with LayerDrop each layer of a dropping stack."""
        return compile_units([self.encoder, self.decoder])

    def upgrade_state_dict(self, state_dict: dict[str, Any]) -> dict[str, Any]:
        """A checkpoint's weights for this model: a full stack's pruned to ``--*-layers-to-keep``."""
        state_dict = super().upgrade_state_dict(state_dict)
        for stack in ("encoder", "decoder"):
            flag = f"--{stack}-layers-to-keep"
            keep = layers_to_keep(getattr(self.args, f"{stack}_layers_to_keep", None), flag)
            if keep is not None:
                state_dict = prune_layers(state_dict, f"{stack}.layers.", keep, flag)
        return state_dict

    @classmethod
    def from_fairseq_state_dict(cls, state_dict: dict[str, Any], args: Any) -> dict[str, Any]:
        """fairseq's weights for this model under seqlab's names (``seq-import-fairseq``)."""
        return transformer_from_fairseq(state_dict, args)

    @classmethod
    def build_embedding(cls, args: Any, dictionary: Any, embed_dim: int) -> nn.Embedding:
        """Return the token embeddings of a dictionary."""
        return build_embedding(len(dictionary), embed_dim, dictionary.pad())
