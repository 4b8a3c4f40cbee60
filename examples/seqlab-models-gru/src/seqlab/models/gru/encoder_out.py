"""The ``encoder_out`` dict of the GRU encoder, in fairseq's layout, and its reordering.

    encoder_out["encoder_out"]          [S x B x C]  top-layer states (both directions)
    encoder_out["encoder_padding_mask"] [B x S]      True at padded source positions
    encoder_out["encoder_hidden"]       [L x B x C]  final state of each layer
    encoder_out["src_lengths"]          [B]          (may be an empty list)

Each value is a list holding zero or one tensor, as in fairseq, so its generators and
plugins read it unchanged.
"""

from __future__ import annotations

from typing import Any

import torch

#: the batch dimension of each entry's tensors
BATCH_DIM = {"encoder_out": 1, "encoder_padding_mask": 0, "encoder_hidden": 1, "src_lengths": 0}


def reorder_encoder_out(encoder_out: dict[str, Any], new_order: torch.Tensor) -> dict[str, Any]:
    """Return a new ``encoder_out`` whose batch row ``i`` is old row ``new_order[i]``."""
    return {
        key: [t.index_select(BATCH_DIM[key], new_order) for t in value] if key in BATCH_DIM else value
        for key, value in encoder_out.items()
    }
