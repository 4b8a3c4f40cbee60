"""The ``lstm`` model and fairseq's named LSTM architectures.

The encoder output is the dict of :mod:`seqlab.models.modules.encoder_out`, with the
encoder's final states under ``encoder_hidden`` and ``encoder_cell``.
"""

from .architectures import base_architecture, lstm_luong_wmt_en_de, lstm_wiseman_iwslt_de_en
from .config import LSTMConfig
from .decoder import LSTMDecoder
from .encoder import LSTMEncoder
from .model import LSTMModel

__all__ = [
    "LSTMConfig",
    "LSTMDecoder",
    "LSTMEncoder",
    "LSTMModel",
    "base_architecture",
    "lstm_luong_wmt_en_de",
    "lstm_wiseman_iwslt_de_en",
]
