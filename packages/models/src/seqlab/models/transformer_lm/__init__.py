"""The ``transformer_lm`` model and fairseq's named language-model architectures.

``forward(src_tokens)`` is causal and returns ``(logits B x T x V, extra)``; pass an
``incremental_state`` dict to decode one token (or a prompt) at a time.
"""

from .architectures import (
    base_lm_architecture,
    transformer_lm_baevski_gbw,
    transformer_lm_baevski_wiki103,
    transformer_lm_big,
    transformer_lm_gpt,
    transformer_lm_gpt2_small,
)
from .config import TransformerLanguageModelConfig
from .model import TransformerLanguageModel

__all__ = [
    "TransformerLanguageModel",
    "TransformerLanguageModelConfig",
    "base_lm_architecture",
    "transformer_lm_baevski_gbw",
    "transformer_lm_baevski_wiki103",
    "transformer_lm_big",
    "transformer_lm_gpt",
    "transformer_lm_gpt2_small",
]
