"""Options of the ``gru`` model; the dataclass defaults are the ``gru`` architecture's."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class GRUConfig:
    """Hyper-parameters of the GRU encoder-decoder with attention."""

    dropout: float = field(default=0.1, metadata={"help": "dropout probability"})
    encoder_embed_dim: int = field(default=256, metadata={"help": "encoder embedding dimension"})
    encoder_hidden_size: int = field(
        default=256, metadata={"help": "encoder GRU hidden size (per direction)"}
    )
    encoder_layers: int = field(default=1, metadata={"help": "number of encoder GRU layers"})
    encoder_bidirectional: bool = field(default=True, metadata={"help": "read the source in both directions"})
    decoder_embed_dim: int = field(
        default=256, metadata={"help": "decoder embedding dimension (also the output features')"}
    )
    decoder_hidden_size: int = field(default=512, metadata={"help": "decoder GRU hidden size"})
    decoder_layers: int = field(default=1, metadata={"help": "number of decoder GRU layers"})
    decoder_attention: bool = field(
        default=True, metadata={"help": "attend over the encoder states at every target position"}
    )
    share_decoder_input_output_embed: bool = field(
        default=False, metadata={"help": "tie the decoder's input embeddings and output projection"}
    )
    share_all_embeddings: bool = field(
        default=False,
        metadata={"help": "share encoder, decoder and output embeddings (needs a joined dictionary)"},
    )
