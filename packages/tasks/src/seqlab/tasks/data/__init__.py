"""Datasets of the translation and language-modeling tasks, and the binarized file format.

Names load on first use, so that writing binarized files (``index_format``)
does not import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "IndexedDatasetBuilder": "index_format",
    "best_dtype": "index_format",
    "dataset_exists": "index_format",
    "read_header": "index_format",
    "IndexedDataset": "indexed_dataset",
    "LanguagePairDataset": "language_pair_dataset",
    "collate": "language_pair_dataset",
    "MonolingualDataset": "monolingual_dataset",
    "SizedDataset": "sized_dataset",
    "TokenBlockDataset": "token_block_dataset",
    "TruncatedDataset": "truncated_dataset",
    "block_slices": "token_block_dataset",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))


__all__ = sorted(_WHERE)
