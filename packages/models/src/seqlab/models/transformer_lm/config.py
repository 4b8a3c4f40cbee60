"""Options of the ``transformer_lm`` model: fairseq's language-model flags and defaults."""

from __future__ import annotations

from dataclasses import dataclass, field

from seqlab.models.modules.activations import ActivationFn
from seqlab.models.modules.transformer_options import SharedTransformerOptions


@dataclass
class TransformerLanguageModelConfig(SharedTransformerOptions):
    """Hyper-parameters of the decoder-only transformer language model (always pre-norm)."""

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
    decoder_embed_dim: int = field(default=512, metadata={"help": "decoder embedding dimension"})
    decoder_input_dim: int | None = field(
        default=None,
        metadata={
            "help": "width of the token embeddings, projected to --decoder-embed-dim (default: the same)"
        },
    )
    decoder_ffn_embed_dim: int = field(
        default=2048, metadata={"help": "decoder inner dimension of the feed-forward blocks"}
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
    decoder_learned_pos: bool = field(
        default=False, metadata={"help": "learn positional embeddings instead of sinusoids"}
    )
    no_decoder_final_norm: bool = field(
        default=False, metadata={"help": "do not apply layer norm after the last decoder layer"}
    )
    decoder_normalize_before: bool = field(
        default=True,
        metadata={
            "help": "layer norm before each sub-layer and after the last layer (pre-norm); "
            "--no-decoder-normalize-before builds post-norm layers, as fairseq 0.12 does by default"
        },
    )
    share_decoder_input_output_embed: bool = field(
        default=False, metadata={"help": "tie the input embeddings and the output projection"}
    )
    no_scale_embedding: bool = field(
        default=False, metadata={"help": "do not multiply token embeddings by sqrt(embedding dimension)"}
    )
    layernorm_embedding: bool = field(
        default=False, metadata={"help": "apply layer norm to the embeddings (tokens + positions)"}
    )
    adaptive_input: bool = field(
        default=False, metadata={"help": "adaptive input embeddings: one narrower table per vocabulary band"}
    )
    adaptive_input_cutoff: str | None = field(
        default=None,
        metadata={"help": "adaptive input: split the vocabulary at these word counts (e.g. '20000,60000')"},
    )
    adaptive_input_factor: float = field(
        default=4.0, metadata={"help": "each further adaptive input band is this many times narrower"}
    )
    tie_adaptive_weights: bool = field(
        default=False,
        metadata={
            "help": "the adaptive softmax reuses the adaptive input's tables (same cutoffs and factor)"
        },
    )
    tie_adaptive_proj: bool = field(
        default=False,
        metadata={"help": "with --tie-adaptive-weights, the softmax tails reuse the input projections too"},
    )
    tokens_per_sample: int = field(
        default=1024, metadata={"help": "longest input sample, in tokens (positions default to it)"}
    )
    max_target_positions: int | None = field(
        default=None, metadata={"help": "longest input the model accepts (default: --tokens-per-sample)"}
    )
