"""Pad a list of 1-D token tensors into one 2-D batch tensor."""

from __future__ import annotations

from collections.abc import Sequence

import torch


def collate_tokens(
    values: Sequence[torch.Tensor],
    pad_idx: int,
    eos_idx: int | None = None,
    left_pad: bool = False,
    move_eos_to_beginning: bool = False,
    pad_to_length: int | None = None,
    pad_to_multiple: int = 1,
) -> torch.Tensor:
    """Stack 1-D tensors into a ``(batch, length)`` tensor padded with ``pad_idx``.

    ``move_eos_to_beginning`` shifts each row right by one and puts ``eos_idx``
    (or the row's last token) first: the teacher-forcing decoder input.
    """
    size = max(v.size(0) for v in values)
    size = size if pad_to_length is None else max(size, pad_to_length)
    if pad_to_multiple != 1 and size % pad_to_multiple != 0:
        size = (size // pad_to_multiple + 1) * pad_to_multiple
    res = values[0].new_full((len(values), size), pad_idx)
    for i, v in enumerate(values):
        n = v.numel()
        dst = res[i, size - n :] if left_pad else res[i, :n]
        if move_eos_to_beginning and n > 0:
            dst[0] = v[-1] if eos_idx is None else eos_idx
            dst[1:] = v[:-1]
        else:
            dst.copy_(v)
    return res
