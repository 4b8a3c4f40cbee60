"""Attention masks for ``F.scaled_dot_product_attention``; True means "may attend".

Masks are built once per forward and shared by every layer. Where no mask is needed
(no padding, or padding only after the last token of every row) none is built, so
PyTorch can pick its fused causal kernels. Under ``torch.compile`` (``--compile``) masks
are always built: looking at the padding first would split the compiled graph at a
data-dependent branch, and a mask that hides nothing gives the same attention.
"""

from __future__ import annotations

import torch


def key_padding_mask(padding: torch.Tensor | None) -> torch.Tensor | None:
    """Return a B x 1 x 1 x S mask hiding padded keys, or None when nothing is padded."""
    if padding is None or (not torch.compiler.is_compiling() and not bool(padding.any())):
        return None
    return ~padding[:, None, None, :]


def causal_padding_mask(padding: torch.Tensor, first_query: int) -> torch.Tensor:
    """Return a B x 1 x Tq x Tk mask: query ``first_query + i`` sees earlier non-pad keys and itself.

    A query always sees its own position, so a padded query never has every key
    hidden (which would give NaN); its output is ignored anyway.
    """
    num_keys = padding.size(1)
    device = padding.device
    query_pos = torch.arange(first_query, num_keys, device=device)[:, None]
    key_pos = torch.arange(num_keys, device=device)[None, :]
    causal = key_pos <= query_pos
    own = key_pos == query_pos
    visible = ~padding[:, None, :] | own  # B x Tq x Tk
    return (visible & causal)[:, None]


def decoder_self_attn_mask(padding: torch.Tensor, first_query: int) -> tuple[torch.Tensor | None, bool]:
    """Return ``(mask, is_causal)`` for decoder self-attention over ``padding`` (B x Tk, True = pad).

    ``first_query`` is the position of the first query (the number of cached
    positions when decoding incrementally).
    """
    num_keys = padding.size(1)
    if first_query == 0:
        # A pad that follows every real token of its row is never seen by a real query under
        # the causal mask, so only padding before some real token needs an explicit mask.
        pad_before_token = padding[:, :-1] & ~padding[:, 1:]
        if not torch.compiler.is_compiling() and not bool(pad_before_token.any()):
            return None, True
        return causal_padding_mask(padding, 0), False
    if num_keys - first_query == 1:
        # one new query sees every cached key; the mask hides cached pads. On the CPU, where
        # looking costs no synchronisation, none is built when nothing is padded (beam search
        # over a source): attention without a mask is faster.
        if padding.device.type == "cpu" and not bool(padding.any()):
            return None, False
        visible = ~padding
        visible[:, -1] = True
        return visible[:, None, None, :], False
    return causal_padding_mask(padding, first_query), False
