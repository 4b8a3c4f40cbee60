"""Building blocks shared by seqlab's models (registers no plugin)."""

from .activations import ACTIVATIONS, ActivationFn, get_activation_fn
from .attention_masks import causal_padding_mask, decoder_self_attn_mask, key_padding_mask
from .embeddings import build_embedding
from .encoder_out import BATCH_DIM, encoder_states, reorder_encoder_out
from .kv_cache import KVCache
from .multihead_attention import CrossAttention, SelfAttention
from .positional_embedding import (
    LearnedPositionalEmbedding,
    SinusoidalPositionalEmbedding,
    build_positional_embedding,
)
from .shared_embeddings import check_share_all_embeddings
from .transformer_decoder import TransformerDecoder
from .transformer_encoder import TransformerEncoder
from .transformer_layer import FeedForward, TransformerDecoderLayer, TransformerEncoderLayer

__all__ = [
    "ACTIVATIONS",
    "ActivationFn",
    "BATCH_DIM",
    "CrossAttention",
    "FeedForward",
    "KVCache",
    "LearnedPositionalEmbedding",
    "SelfAttention",
    "SinusoidalPositionalEmbedding",
    "TransformerDecoder",
    "TransformerDecoderLayer",
    "TransformerEncoder",
    "TransformerEncoderLayer",
    "build_embedding",
    "build_positional_embedding",
    "causal_padding_mask",
    "check_share_all_embeddings",
    "decoder_self_attn_mask",
    "encoder_states",
    "get_activation_fn",
    "key_padding_mask",
    "reorder_encoder_out",
]
