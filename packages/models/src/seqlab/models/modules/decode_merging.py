"""Joining two decodes into one batch: the rows of the second go after the rows of the first.

Beam search merges a batch's last few sentences into the next batch once both have decoded
the same number of steps (see seqlab.tasks.generation.tail_merging): their self-attention
caches then hold equally many positions and join row by row. Their sources may differ in
length, so encoder states and the keys and values computed from them are padded at the end
to the longer source, and the padding mask hides the added positions.
"""

from __future__ import annotations

from typing import Any

import torch

from .encoder_out import BATCH_DIM, TIME_MAJOR

#: the source-length dimension of each batch-first ``encoder_out`` tensor (absent: none, or not
#: padded: a ``src_tokens`` entry of a different length cannot be merged, its pad index is unknown)
TIME_DIM: dict[str, int] = {"encoder_padding_mask": 1, "encoder_embedding": 1}


def concat_padded(
    first: torch.Tensor, second: torch.Tensor, batch_dim: int, time_dim: int | None, fill: float | bool = 0
) -> torch.Tensor:
    """``first`` and ``second`` joined along ``batch_dim``, the shorter padded with ``fill`` along ``time_dim``."""
    if time_dim is None or first.size(time_dim) == second.size(time_dim):
        return torch.cat([first, second], dim=batch_dim)
    shape = list(first.shape)
    shape[batch_dim] += second.size(batch_dim)
    shape[time_dim] = max(first.size(time_dim), second.size(time_dim))
    out = first.new_full(shape, fill)
    out.narrow(batch_dim, 0, first.size(batch_dim)).narrow(time_dim, 0, first.size(time_dim)).copy_(first)
    rest = out.narrow(batch_dim, first.size(batch_dim), second.size(batch_dim))
    rest.narrow(time_dim, 0, second.size(time_dim)).copy_(second)
    return out


def merge_encoder_out(first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
    """One ``encoder_out`` holding ``first``'s rows, then ``second``'s, padded to the longer source."""
    if first.keys() != second.keys():
        raise ValueError(
            f"cannot merge encoder outputs with different entries: {sorted(first)} and {sorted(second)}"
        )
    merged: dict[str, Any] = {}
    for key, value in first.items():
        other = second[key]
        dim = BATCH_DIM.get(key)
        if dim is None or not isinstance(value, list):
            merged[key] = value
            continue
        if len(value) != len(other):
            raise ValueError(
                f"cannot merge encoder outputs: '{key}' holds {len(value)} and {len(other)} tensors"
            )
        merged[key] = [
            _merge_entry(key, dim, a, b) if torch.is_tensor(a) else a for a, b in zip(value, other)
        ]
    return merged


def _merge_entry(key: str, dim: int, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    if key in TIME_MAJOR:  # T x B x C views of batch-first storage stay so
        return concat_padded(first.transpose(0, 1), second.transpose(0, 1), 0, 1).transpose(0, 1)
    return concat_padded(first, second, dim, TIME_DIM.get(key), key == "encoder_padding_mask")
