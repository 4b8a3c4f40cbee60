"""Every plugin base class, with fairseq's names as aliases so that fairseq plugins port."""

from __future__ import annotations

from .criterion import Criterion
from .decoder import Decoder, IncrementalDecoder
from .encoder import Encoder
from .incremental import IncrementalState
from .lr_scheduler import LRScheduler
from .model import BaseModel, EncoderDecoderModel, EncoderModel, LanguageModel
from .optimizer import Optimizer
from .task import Task

# fairseq's names: ``from fairseq.models import FairseqEncoder`` ports to
# ``from seqlab.core import FairseqEncoder``.
BaseFairseqModel = BaseModel
FairseqEncoderDecoderModel = EncoderDecoderModel
FairseqEncoderModel = EncoderModel
FairseqLanguageModel = LanguageModel
FairseqEncoder = Encoder
FairseqDecoder = Decoder
FairseqIncrementalDecoder = IncrementalDecoder
FairseqIncrementalState = IncrementalState
FairseqCriterion = Criterion
FairseqTask = Task
LegacyFairseqTask = Task
FairseqOptimizer = Optimizer
LegacyFairseqOptimizer = Optimizer
FairseqLRScheduler = LRScheduler
LegacyFairseqLRScheduler = LRScheduler

__all__ = [
    "BaseModel",
    "EncoderDecoderModel",
    "EncoderModel",
    "LanguageModel",
    "Encoder",
    "Decoder",
    "IncrementalDecoder",
    "IncrementalState",
    "Criterion",
    "Task",
    "Optimizer",
    "LRScheduler",
    "BaseFairseqModel",
    "FairseqEncoderDecoderModel",
    "FairseqEncoderModel",
    "FairseqLanguageModel",
    "FairseqEncoder",
    "FairseqDecoder",
    "FairseqIncrementalDecoder",
    "FairseqIncrementalState",
    "FairseqCriterion",
    "FairseqTask",
    "LegacyFairseqTask",
    "FairseqOptimizer",
    "LegacyFairseqOptimizer",
    "FairseqLRScheduler",
    "LegacyFairseqLRScheduler",
]
