"""Options of the ``lstm`` model: fairseq's flags, names and defaults (the base arch's)."""

from __future__ import annotations

from dataclasses import dataclass, field


def boolean(text: str | bool) -> bool:
    """Read fairseq's boolean option values: 1/0, true/false, yes/no (any case)."""
    # named for argparse, which reports "invalid boolean value: 'x'" when this raises ValueError
    if isinstance(text, bool):
        return text
    value = str(text).strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"expected 1/0 or true/false, got '{text}'")


@dataclass
class LSTMConfig:
    """Hyper-parameters of the LSTM encoder-decoder with attention and input feeding (Luong et al.)."""

    dropout: float = field(default=0.1, metadata={"help": "dropout probability"})
    encoder_embed_dim: int = field(default=512, metadata={"help": "encoder embedding dimension"})
    encoder_embed_path: str | None = field(
        default=None,
        metadata={"help": "start the encoder embeddings from this text file of 'word v1 ... vd' lines"},
    )
    encoder_freeze_embed: bool = field(
        default=False, metadata={"help": "do not train the encoder embeddings"}
    )
    encoder_hidden_size: int = field(
        default=512, metadata={"help": "encoder hidden size (presets default it to --encoder-embed-dim)"}
    )
    encoder_layers: int = field(default=1, metadata={"help": "number of encoder layers"})
    encoder_bidirectional: bool = field(default=False, metadata={"help": "make the encoder bidirectional"})
    encoder_dropout_in: float = field(
        default=0.1,
        metadata={
            "help": "dropout probability of the encoder input embeddings (presets default it to --dropout)"
        },
    )
    encoder_dropout_out: float = field(
        default=0.1,
        metadata={"help": "dropout probability of the encoder outputs (presets default it to --dropout)"},
    )
    decoder_embed_dim: int = field(default=512, metadata={"help": "decoder embedding dimension"})
    decoder_embed_path: str | None = field(
        default=None,
        metadata={"help": "start the decoder embeddings from this text file of 'word v1 ... vd' lines"},
    )
    decoder_freeze_embed: bool = field(
        default=False, metadata={"help": "do not train the decoder embeddings"}
    )
    decoder_hidden_size: int = field(
        default=512, metadata={"help": "decoder hidden size (presets default it to --decoder-embed-dim)"}
    )
    decoder_layers: int = field(default=1, metadata={"help": "number of decoder layers"})
    decoder_out_embed_dim: int = field(default=512, metadata={"help": "decoder output embedding dimension"})
    decoder_attention: bool = field(
        default=True,
        metadata={
            "help": "use attention over the encoder outputs (1 or 0)",
            "type": boolean,
            "metavar": "BOOL",
        },
    )
    decoder_dropout_in: float = field(
        default=0.1,
        metadata={
            "help": "dropout probability of the decoder input embeddings (presets default it to --dropout)"
        },
    )
    decoder_dropout_out: float = field(
        default=0.1,
        metadata={"help": "dropout probability of the decoder outputs (presets default it to --dropout)"},
    )
    share_decoder_input_output_embed: bool = field(
        default=False, metadata={"help": "tie the decoder's input embeddings and output projection"}
    )
    share_all_embeddings: bool = field(
        default=False,
        metadata={"help": "share encoder, decoder and output embeddings (needs a joined dictionary)"},
    )
