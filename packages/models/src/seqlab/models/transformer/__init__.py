"""The ``transformer`` model and fairseq's named transformer architectures.

``from seqlab.models.transformer import transformer_vaswani_wmt_en_de_big`` gives an
architecture function to build on (DESIGN §2); the encoder output is the dict
described in :mod:`seqlab.models.modules.encoder_out`.
"""

from .architectures import (
    base_architecture,
    transformer_iwslt_de_en,
    transformer_vaswani_wmt_en_de_big,
    transformer_vaswani_wmt_en_fr_big,
    transformer_wmt_en_de,
    transformer_wmt_en_de_big,
    transformer_wmt_en_de_big_t2t,
)
from .config import TransformerConfig
from .model import TransformerModel

__all__ = [
    "TransformerConfig",
    "TransformerModel",
    "base_architecture",
    "transformer_iwslt_de_en",
    "transformer_vaswani_wmt_en_de_big",
    "transformer_vaswani_wmt_en_fr_big",
    "transformer_wmt_en_de",
    "transformer_wmt_en_de_big",
    "transformer_wmt_en_de_big_t2t",
]
