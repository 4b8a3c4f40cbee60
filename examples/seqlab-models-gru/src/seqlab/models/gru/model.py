"""The ``gru`` encoder-decoder model."""

from __future__ import annotations

from typing import Any

from torch import nn

from seqlab.core import ConfigError, EncoderDecoderModel, register_model

from .architectures import base_architecture
from .config import GRUConfig
from .decoder import GRUDecoder
from .encoder import GRUEncoder

#: length limits when the task sets none (a GRU has no positional table to outgrow)
DEFAULT_MAX_POSITIONS = 100_000


def _embedding(dictionary: Any, dim: int) -> nn.Embedding:
    embed = nn.Embedding(len(dictionary), dim, padding_idx=dictionary.pad())
    nn.init.normal_(embed.weight, mean=0.0, std=dim**-0.5)
    nn.init.zeros_(embed.weight[dictionary.pad()])
    return embed


@register_model("gru", dataclass=GRUConfig)
class GRUModel(EncoderDecoderModel):
    """GRU encoder-decoder with attention over the encoder states."""

    @classmethod
    def build_model(cls, args: Any, task: Any) -> GRUModel:
        """Build from the flat ``args`` and the task's source and target dictionaries."""
        base_architecture(args)
        src_dict, tgt_dict = task.source_dictionary, task.target_dictionary
        encoder_embed = _embedding(src_dict, args.encoder_embed_dim)
        if args.share_all_embeddings:
            if src_dict != tgt_dict:
                raise ConfigError(
                    "--share-all-embeddings needs one dictionary for both languages; "
                    "binarize with seq-preprocess --joined-dictionary"
                )
            if args.encoder_embed_dim != args.decoder_embed_dim:
                raise ConfigError(
                    f"--share-all-embeddings needs --encoder-embed-dim ({args.encoder_embed_dim}) to equal "
                    f"--decoder-embed-dim ({args.decoder_embed_dim})"
                )
            decoder_embed = encoder_embed
        else:
            decoder_embed = _embedding(tgt_dict, args.decoder_embed_dim)
        encoder = GRUEncoder(
            src_dict,
            encoder_embed,
            hidden_size=args.encoder_hidden_size,
            num_layers=args.encoder_layers,
            bidirectional=args.encoder_bidirectional,
            dropout=args.dropout,
            max_source_positions=getattr(args, "max_source_positions", None) or DEFAULT_MAX_POSITIONS,
        )
        decoder = GRUDecoder(
            tgt_dict,
            decoder_embed,
            hidden_size=args.decoder_hidden_size,
            num_layers=args.decoder_layers,
            encoder_output_units=encoder.output_units,
            attention=args.decoder_attention,
            dropout=args.dropout,
            share_input_output_embed=args.share_decoder_input_output_embed or args.share_all_embeddings,
            max_target_positions=getattr(args, "max_target_positions", None) or DEFAULT_MAX_POSITIONS,
        )
        return cls(encoder, decoder)
