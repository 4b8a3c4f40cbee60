"""The ``lstm`` encoder-decoder model."""

from __future__ import annotations

from typing import Any

from seqlab.core import ConfigError, EncoderDecoderModel, register_model
from seqlab.models.modules import check_share_all_embeddings
from seqlab.models.modules.pretrained_embeddings import check_shared_paths, load_pretrained

from .architectures import base_architecture
from .config import LSTMConfig, boolean
from .decoder import LSTMDecoder
from .encoder import LSTMEncoder
from .init import lstm_embedding

#: fairseq's length limits for LSTM models (the task's --max-*-positions win when it sets them)
DEFAULT_MAX_SOURCE_POSITIONS = 100_000
DEFAULT_MAX_TARGET_POSITIONS = 100_000


@register_model("lstm", dataclass=LSTMConfig)
class LSTMModel(EncoderDecoderModel):
    """LSTM encoder-decoder with attention and input feeding, with fairseq's options and layout."""

    def __init__(self, args: Any, encoder: LSTMEncoder, decoder: LSTMDecoder) -> None:
        super().__init__(encoder, decoder)
        self.args = args

    @classmethod
    def build_model(cls, args: Any, task: Any) -> LSTMModel:
        """Build from the flat ``args`` and the task's source and target dictionaries."""
        base_architecture(args)
        if args.encoder_layers != args.decoder_layers:
            raise ConfigError(
                f"--encoder-layers ({args.encoder_layers}) must match --decoder-layers "
                f"({args.decoder_layers}): the decoder starts from the encoder's final states"
            )
        src_dict, tgt_dict = task.source_dictionary, task.target_dictionary
        encoder_embed = lstm_embedding(len(src_dict), args.encoder_embed_dim, src_dict.pad())
        if args.share_all_embeddings:
            check_share_all_embeddings(args, src_dict, tgt_dict)
            check_shared_paths(args)
            decoder_embed = encoder_embed
            args.share_decoder_input_output_embed = True
        else:
            decoder_embed = lstm_embedding(len(tgt_dict), args.decoder_embed_dim, tgt_dict.pad())
            if getattr(args, "decoder_embed_path", None):
                load_pretrained(decoder_embed, args.decoder_embed_path, tgt_dict, "--decoder-embed-path")
        if getattr(args, "encoder_embed_path", None):
            load_pretrained(encoder_embed, args.encoder_embed_path, src_dict, "--encoder-embed-path")
        if args.share_decoder_input_output_embed and args.decoder_embed_dim != args.decoder_out_embed_dim:
            raise ConfigError(
                f"--share-decoder-input-output-embed needs --decoder-embed-dim ({args.decoder_embed_dim}) "
                f"to equal --decoder-out-embed-dim ({args.decoder_out_embed_dim}); set them equal"
            )
        try:
            attention = boolean(args.decoder_attention)
        except ValueError as exc:
            raise ConfigError(f"--decoder-attention: {exc}") from None
        encoder_embed.weight.requires_grad = not args.encoder_freeze_embed
        decoder_embed.weight.requires_grad = not args.decoder_freeze_embed

        encoder = LSTMEncoder(
            src_dict,
            encoder_embed,
            hidden_size=args.encoder_hidden_size,
            num_layers=args.encoder_layers,
            dropout_in=args.encoder_dropout_in,
            dropout_out=args.encoder_dropout_out,
            bidirectional=args.encoder_bidirectional,
            max_source_positions=getattr(args, "max_source_positions", None) or DEFAULT_MAX_SOURCE_POSITIONS,
        )
        decoder = LSTMDecoder(
            tgt_dict,
            decoder_embed,
            hidden_size=args.decoder_hidden_size,
            out_embed_dim=args.decoder_out_embed_dim,
            num_layers=args.decoder_layers,
            dropout_in=args.decoder_dropout_in,
            dropout_out=args.decoder_dropout_out,
            attention=attention,
            encoder_output_units=encoder.output_units,
            share_input_output_embed=args.share_decoder_input_output_embed,
            max_target_positions=getattr(args, "max_target_positions", None) or DEFAULT_MAX_TARGET_POSITIONS,
        )
        return cls(args, encoder, decoder)
