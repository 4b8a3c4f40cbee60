"""The ``gru`` model: a GRU encoder-decoder with attention, and its named architectures.

Importing this package registers the model and the architectures ``gru``, ``gru_small``
and ``gru_tiny``; the distribution's entry points name it, so seq-train finds them once
seqlab-models-gru is installed.
"""

from .architectures import base_architecture, gru_small, gru_tiny
from .config import GRUConfig
from .decoder import GRUDecoder
from .encoder import GRUEncoder
from .model import GRUModel

__all__ = ["GRUConfig", "GRUDecoder", "GRUEncoder", "GRUModel", "base_architecture", "gru_small", "gru_tiny"]
