"""Options of the ``transformer`` model: fairseq's flags, names and defaults (the base arch's)."""

from __future__ import annotations

from dataclasses import dataclass, field

from seqlab.models.modules.activations import ActivationFn
from seqlab.models.modules.transformer_options import SharedTransformerOptions


@dataclass
class TransformerConfig(SharedTransformerOptions):
    """Hyper-parameters of the encoder-decoder transformer (Vaswani et al., 2017)."""

    activation_fn: ActivationFn = field(
        default="relu", metadata={"help": "activation function of the feed-forward blocks"}
    )
    dropout: float = field(default=0.1, metadata={"help": "dropout probability"})
    attention_dropout: float = field(
        default=0.0, metadata={"help": "dropout probability of the attention weights"}
    )
    activation_dropout: float = field(
        default=0.0,
        metadata={
            "help": "dropout probability after the activation in the feed-forward blocks",
            "aliases": ("--relu-dropout",),
        },
    )
    encoder_embed_dim: int = field(default=512, metadata={"help": "encoder embedding dimension"})
    encoder_embed_path: str | None = field(
        default=None,
        metadata={"help": "start the encoder embeddings from this text file of 'word v1 ... vd' lines"},
    )
    encoder_ffn_embed_dim: int = field(
        default=2048, metadata={"help": "encoder inner dimension of the feed-forward blocks"}
    )
    encoder_layers: int = field(default=6, metadata={"help": "number of encoder layers"})
    encoder_layerdrop: float = field(
        default=0.0, metadata={"help": "LayerDrop: skip each encoder layer with this probability in training"}
    )
    encoder_layers_to_keep: str | None = field(
        default=None,
        metadata={"help": "build only these encoder layers (e.g. '0,2,4') of a LayerDrop-trained model"},
    )
    encoder_attention_heads: int = field(default=8, metadata={"help": "number of encoder attention heads"})
    encoder_normalize_before: bool = field(
        default=False, metadata={"help": "apply layer norm before each encoder block (pre-norm)"}
    )
    encoder_learned_pos: bool = field(
        default=False, metadata={"help": "learn encoder positional embeddings instead of sinusoids"}
    )
    decoder_embed_dim: int = field(
        default=512,
        metadata={"help": "decoder embedding dimension (presets default it to --encoder-embed-dim)"},
    )
    decoder_embed_path: str | None = field(
        default=None,
        metadata={"help": "start the decoder embeddings from this text file of 'word v1 ... vd' lines"},
    )
    decoder_ffn_embed_dim: int = field(
        default=2048,
        metadata={
            "help": "decoder inner dimension of the feed-forward blocks (presets default it to --encoder-ffn-embed-dim)"
        },
    )
    decoder_layers: int = field(default=6, metadata={"help": "number of decoder layers"})
    decoder_layerdrop: float = field(
        default=0.0, metadata={"help": "LayerDrop: skip each decoder layer with this probability in training"}
    )
    decoder_layers_to_keep: str | None = field(
        default=None,
        metadata={"help": "build only these decoder layers (e.g. '0,2,4') of a LayerDrop-trained model"},
    )
    decoder_attention_heads: int = field(default=8, metadata={"help": "number of decoder attention heads"})
    decoder_normalize_before: bool = field(
        default=False, metadata={"help": "apply layer norm before each decoder block (pre-norm)"}
    )
    no_decoder_final_norm: bool = field(
        default=False,
        metadata={"help": "with --decoder-normalize-before, no layer norm after the last decoder layer"},
    )
    decoder_learned_pos: bool = field(
        default=False, metadata={"help": "learn decoder positional embeddings instead of sinusoids"}
    )
    share_decoder_input_output_embed: bool = field(
        default=False, metadata={"help": "tie the decoder's input embeddings and output projection"}
    )
    share_all_embeddings: bool = field(
        default=False,
        metadata={"help": "share encoder, decoder and output embeddings (needs a joined dictionary)"},
    )
    no_scale_embedding: bool = field(
        default=False, metadata={"help": "do not multiply token embeddings by sqrt(embedding dimension)"}
    )
    layernorm_embedding: bool = field(
        default=False, metadata={"help": "apply layer norm to the embeddings (tokens + positions)"}
    )
    max_source_positions: int = field(default=1024, metadata={"help": "longest source, in tokens"})
    max_target_positions: int = field(default=1024, metadata={"help": "longest target, in tokens"})
