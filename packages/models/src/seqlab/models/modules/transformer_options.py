"""Options the transformer and transformer_lm models both take, for the stacks they share."""

from __future__ import annotations

from dataclasses import dataclass, field

from .adaptive_softmax import AdaptiveSoftmaxOptions


@dataclass
class SharedTransformerOptions(AdaptiveSoftmaxOptions):
    """The decoder's output width, activation checkpointing and positions (and the adaptive softmax's flags)."""

    decoder_output_dim: int | None = field(
        default=None,
        metadata={
            "help": "width of the decoder's output before the vocabulary projection (default: --decoder-embed-dim)"
        },
    )
    checkpoint_activations: bool = field(
        default=False,
        metadata={
            "help": "keep only each layer's input in training and recompute its activations in the "
            "backward pass: less memory for about a third more arithmetic"
        },
    )
    offload_activations: bool = field(
        default=False,
        metadata={
            "help": "--checkpoint-activations that also keeps each layer's input in CPU memory until the "
            "backward pass (on a GPU; on a CPU the same as --checkpoint-activations)"
        },
    )
    no_token_positional_embeddings: bool = field(
        default=False, metadata={"help": "add no positional embeddings to the token embeddings"}
    )
