"""The ``encoder_out`` dict every seqlab encoder returns, and its reordering for beam search.

Layout (fairseq's, so fairseq generators and plugins read it unchanged)::

    encoder_out["encoder_out"]          [T x B x C]  top encoder states
    encoder_out["encoder_padding_mask"] [B x T]      True at padded source positions
    encoder_out["encoder_embedding"]    [B x T x C]  scaled token embeddings (transformer)
    encoder_out["encoder_states"]       [T x B x C, ...] every layer's output (return_all_hiddens)
    encoder_out["encoder_hidden"]       [L x B x C]  final hidden state per layer (lstm)
    encoder_out["encoder_cell"]         [L x B x C]  final cell state per layer (lstm)
    encoder_out["src_tokens"], ["src_lengths"]  [B x T], [B] (may be empty lists)

Each value is a list holding zero or one tensor (``encoder_states``: one per layer).
The transformer's T x B x C tensors are transposed views of batch-first tensors, so
the layout costs no copy.
"""

from __future__ import annotations

from typing import Any

import torch

#: the batch dimension of each entry's tensors
BATCH_DIM: dict[str, int] = {
    "encoder_out": 1,
    "encoder_padding_mask": 0,
    "encoder_embedding": 0,
    "encoder_states": 1,
    "encoder_hidden": 1,  # L x B x C
    "encoder_cell": 1,  # L x B x C
    "src_tokens": 0,
    "src_lengths": 0,
}

#: the T x B x C entries
TIME_MAJOR = frozenset({"encoder_out", "encoder_states"})


def reorder_encoder_out(encoder_out: dict[str, Any], new_order: torch.Tensor) -> dict[str, Any]:
    """Return a new ``encoder_out`` whose batch row ``i`` is old row ``new_order[i]``."""
    reordered: dict[str, Any] = {}
    for key, value in encoder_out.items():
        dim = BATCH_DIM.get(key)
        if dim is None or not isinstance(value, list):
            reordered[key] = value
            continue
        select = _select_time_major if key in TIME_MAJOR else _select
        reordered[key] = [select(t, dim, new_order) if torch.is_tensor(t) else t for t in value]
    return reordered


def _select(t: torch.Tensor, dim: int, new_order: torch.Tensor) -> torch.Tensor:
    return t.index_select(dim, new_order)


def _select_time_major(t: torch.Tensor, dim: int, new_order: torch.Tensor) -> torch.Tensor:
    # T x B x C entries stay transposed views of batch-first storage: the decoders read them
    # batch-first at every step, and selecting in that layout costs the same single copy.
    return t.transpose(0, 1).index_select(0, new_order).transpose(0, 1)


def encoder_states(encoder_out: dict[str, Any] | None) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """Return ``(states B x T x C, padding B x T)`` of an ``encoder_out`` (None when absent)."""
    if not encoder_out:
        return None, None
    outs = encoder_out.get("encoder_out") or []
    masks = encoder_out.get("encoder_padding_mask") or []
    states = outs[0].transpose(0, 1) if outs else None
    padding = masks[0] if masks else None
    return states, padding
