"""Sequence generation: beam search and sampling, ensembles, BLEU, language-model scoring.

``task.build_generator(models, args)`` returns a :class:`SequenceGenerator`; its options
are the fields of :class:`GenerationConfig` (``--beam``, ``--lenpen``, ``--sampling``...).
"""

from __future__ import annotations

from typing import Any

from .config import GenerationConfig
from .ensemble import EnsembleModel
from .sequence_generator import SequenceGenerator

__all__ = ["EnsembleModel", "GenerationConfig", "SequenceGenerator", "build_generator"]


def build_generator(models: list, args: object, tgt_dict: object, **kwargs: Any) -> SequenceGenerator:
    """A generator for ``models`` with the generation options found in ``args`` (``kwargs``: the generator's own)."""
    return SequenceGenerator(models, tgt_dict, GenerationConfig.from_args(args), **kwargs)
