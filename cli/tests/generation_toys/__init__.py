"""A user dir for the generation tools' tests: small recurrent models and a checkpoint writer.

``toy_seq2seq`` (a GRU with attention over the source) and ``toy_lm`` (a GRU language
model) follow the incremental-decoder contract; ``write_checkpoint`` saves one as
seq-train would, without an optimizer or a training run; ``translation_data`` and
``lm_data`` write small data directories with seq-preprocess.
"""

from .checkpoints import write_checkpoint
from .data import TEST_SRC, TEST_TGT, lm_data, translation_data
from .models import ToyLM, ToySeq2Seq

__all__ = ["TEST_SRC", "TEST_TGT", "ToyLM", "ToySeq2Seq", "lm_data", "translation_data", "write_checkpoint"]
