"""Mini-batches in the layout of DESIGN §2, made from dictionaries instead of data files.

Sources are padded on the left and targets on the right, as the translation task does
by default; the lengths differ so that every batch holds padding.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from ..data.collate import collate_tokens

#: (source length, target length) of each sentence, ``</s>`` included
DEFAULT_LENGTHS: tuple[tuple[int, int], ...] = ((5, 4), (3, 7), (8, 2), (4, 5), (6, 6), (2, 3))


def _sentence(dictionary: Any, length: int, generator: torch.Generator) -> torch.Tensor:
    words = torch.randint(dictionary.nspecial, len(dictionary), (length,), generator=generator)
    words[-1] = dictionary.eos()
    return words


def translation_batch(
    source_dictionary: Any,
    target_dictionary: Any,
    lengths: Sequence[tuple[int, int]] = DEFAULT_LENGTHS,
    seed: int = 0,
) -> dict[str, Any]:
    """Return a translation mini-batch of random sentences with the given lengths."""
    g = torch.Generator().manual_seed(seed)
    sources = [_sentence(source_dictionary, n, g) for n, _ in lengths]
    targets = [_sentence(target_dictionary, m, g) for _, m in lengths]
    pad, eos = target_dictionary.pad(), target_dictionary.eos()
    return {
        "id": torch.arange(len(lengths)),
        "nsentences": len(lengths),
        "ntokens": sum(m for _, m in lengths),
        "net_input": {
            "src_tokens": collate_tokens(sources, source_dictionary.pad(), left_pad=True),
            "src_lengths": torch.tensor([n for n, _ in lengths]),
            "prev_output_tokens": collate_tokens(targets, pad, eos, move_eos_to_beginning=True),
        },
        "target": collate_tokens(targets, pad),
    }


def language_model_batch(
    dictionary: Any, lengths: Sequence[int] = (6, 4, 7, 3), seed: int = 0
) -> dict[str, Any]:
    """Return a language-model mini-batch: each target is its input shifted by one token."""
    g = torch.Generator().manual_seed(seed)
    texts = [_sentence(dictionary, n + 1, g) for n in lengths]
    pad = dictionary.pad()
    return {
        "id": torch.arange(len(lengths)),
        "nsentences": len(lengths),
        "ntokens": sum(lengths),
        "net_input": {
            "src_tokens": collate_tokens([t[:-1] for t in texts], pad),
            "src_lengths": torch.tensor(list(lengths)),
        },
        "target": collate_tokens([t[1:] for t in texts], pad),
    }


def select_rows(sample: dict[str, Any], rows: torch.Tensor, pad: int) -> dict[str, Any]:
    """Return the mini-batch of the given rows, with ``nsentences`` and ``ntokens`` recounted."""
    bsz = sample["target"].size(0)

    def pick(value: Any) -> Any:
        if torch.is_tensor(value) and value.dim() > 0 and value.size(0) == bsz:
            return value.index_select(0, rows)
        if isinstance(value, dict):
            return {k: pick(v) for k, v in value.items()}
        return value

    out = pick(sample)
    out["nsentences"] = len(rows)
    out["ntokens"] = int(out["target"].ne(pad).sum())
    return out


def with_extra_padding(sample: dict[str, Any], columns: int, pad: int) -> dict[str, Any]:
    """Return the mini-batch with ``columns`` more padding after every target-side row."""

    def widen(t: torch.Tensor) -> torch.Tensor:
        return torch.cat([t, t.new_full((t.size(0), columns), pad)], dim=1)

    out = dict(sample)
    out["net_input"] = dict(sample["net_input"])
    out["target"] = widen(sample["target"])
    if "prev_output_tokens" in out["net_input"]:
        out["net_input"]["prev_output_tokens"] = widen(out["net_input"]["prev_output_tokens"])
    return out
