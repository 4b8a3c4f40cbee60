"""Multi-head attention through ``F.scaled_dot_product_attention``, with an incremental cache.

Self-attention projects queries, keys and values with one fused matrix; encoder-decoder
attention projects keys and values of the encoder states with one fused matrix and
computes them once per decode, caching them for the following steps; in beam search
the hypotheses of a sentence share one cached row (see :meth:`CrossAttention.forward`). Tensors are
batch-first (B x T x C); heads are split as B x H x T x D views without copies.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from seqlab.core import ConfigError
from seqlab.core.incremental import IncrementalState, IncrementalStateDict

from .decode_merging import concat_padded
from .kv_cache import KVCache
from .row_reorder import reorder_rows_in_place


def _check_heads(embed_dim: int, num_heads: int, flag: str) -> int:
    if num_heads <= 0 or embed_dim % num_heads:
        raise ConfigError(
            f"{flag} {num_heads} must divide the embedding dimension {embed_dim}; "
            "choose a number of heads that divides it"
        )
    return embed_dim // num_heads


def _split_heads(fused: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """The B x H x T x D views of a fused projection's parts (B x T x parts x H x D).

    Unbinding the parts dimension in place (rather than after moving it first) makes the
    backward stack the parts' gradients straight into the projection's B x T x parts*C layout:
    one copy instead of a stack and then a copy into that layout.
    """
    return tuple(part.transpose(1, 2) for part in fused.unbind(2))


def _init_fused(linear: nn.Linear, parts: int) -> None:
    # fairseq initialises q, k and v as separate square matrices (xavier, gain 1/sqrt(2));
    # the fused matrix gets the same distribution part by part.
    for chunk in linear.weight.chunk(parts, dim=0):
        nn.init.xavier_uniform_(chunk, gain=1 / math.sqrt(2))
    nn.init.zeros_(linear.bias)


def _init_out(linear: nn.Linear) -> None:
    nn.init.xavier_uniform_(linear.weight)
    nn.init.zeros_(linear.bias)


def attend(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    attn_mask: torch.Tensor | None = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
) -> torch.Tensor:
    """``F.scaled_dot_product_attention``, in fp32 where it will be differentiated in bf16 or fp16 on a CPU."""
    low = q.dtype
    if (
        low in (torch.bfloat16, torch.float16)
        and q.device.type == "cpu"
        and torch.is_grad_enabled()
        and (q.requires_grad or k.requires_grad or v.requires_grad)
    ):
        # torch's CPU flash-attention backward measured 4x slower in bf16 than in fp32 (torch 2.13,
        # CONFIG-A shapes), and made --bf16 training slower than fp32; its forward alone is not
        if attn_mask is not None and attn_mask.is_floating_point():
            attn_mask = attn_mask.float()
        with torch.autocast("cpu", enabled=False):  # autocast would cast the inputs back
            out = F.scaled_dot_product_attention(
                q.float(), k.float(), v.float(), attn_mask=attn_mask, dropout_p=dropout_p, is_causal=is_causal
            )
        return out.to(low)
    return F.scaled_dot_product_attention(
        q, k, v, attn_mask=attn_mask, dropout_p=dropout_p, is_causal=is_causal
    )


def _attend_with_weights(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None, dropout: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Attention that also returns the weights averaged over heads (B x Tq x Tk), for alignments."""
    scores = torch.matmul(q, k.transpose(-1, -2)).float() * (q.size(-1) ** -0.5)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    out = torch.matmul(F.dropout(weights, dropout, training=dropout > 0).type_as(v), v)
    return out, weights.mean(dim=1).type_as(q)


class SelfAttention(IncrementalState, nn.Module):
    """Self-attention with a fused q/k/v projection; caches keys and values when decoding."""

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, flag: str = "--heads") -> None:
        super().__init__()
        self.embed_dim = embed_dim
        self.num_heads = num_heads
        self.head_dim = _check_heads(embed_dim, num_heads, flag)
        self.dropout = dropout
        self.in_proj = nn.Linear(embed_dim, 3 * embed_dim)
        self.out_proj = nn.Linear(embed_dim, embed_dim)
        _init_fused(self.in_proj, 3)
        _init_out(self.out_proj)
        self.init_incremental_state()

    def forward(
        self,
        x: torch.Tensor,
        attn_mask: torch.Tensor | None = None,
        is_causal: bool = False,
        incremental_state: IncrementalStateDict | None = None,
    ) -> torch.Tensor:
        """Attend over ``x`` (B x T x C) and, when decoding, over the cached earlier positions."""
        bsz, length, _ = x.shape
        qkv = self.in_proj(x).view(bsz, length, 3, self.num_heads, self.head_dim)
        q, k, v = _split_heads(qkv)
        if incremental_state is not None:
            k, v = self._cache(incremental_state).append(k, v)
        out = attend(
            q,
            k,
            v,
            attn_mask=attn_mask,
            dropout_p=self.dropout if self.training else 0.0,
            is_causal=is_causal and attn_mask is None,
        )
        return self.out_proj(out.transpose(1, 2).reshape(bsz, length, self.embed_dim))

    def _cache(self, incremental_state: IncrementalStateDict) -> KVCache:
        state = self.get_incremental_state(incremental_state, "kv")
        if state is None:
            state = {"cache": KVCache()}
            self.set_incremental_state(incremental_state, "kv", state)
        return state["cache"]

    def reorder_incremental_state(
        self, incremental_state: IncrementalStateDict, new_order: torch.Tensor
    ) -> None:
        """Reorder the cached keys and values along the batch (beam search)."""
        state = self.get_incremental_state(incremental_state, "kv")
        if state is not None:
            state["cache"].reorder(new_order)

    def merge_incremental_state(
        self, incremental_state: IncrementalStateDict, other: IncrementalStateDict
    ) -> None:
        """Append the cached rows of ``other``, a decode at the same step, after this decode's."""
        mine, theirs = _both_states(self, incremental_state, other, "kv")
        if mine is not None and theirs is not None:
            mine["cache"].concat(theirs["cache"])


class CrossAttention(IncrementalState, nn.Module):
    """Encoder-decoder attention; the encoder's keys and values are computed once per decode."""

    def __init__(
        self, embed_dim: int, num_heads: int, kv_dim: int, dropout: float = 0.0, flag: str = "--heads"
    ) -> None:
        super().__init__()
        self.embed_dim = embed_dim
        self.num_heads = num_heads
        self.head_dim = _check_heads(embed_dim, num_heads, flag)
        self.dropout = dropout
        self.q_proj = nn.Linear(embed_dim, embed_dim)
        self.kv_proj = nn.Linear(kv_dim, 2 * embed_dim)
        self.out_proj = nn.Linear(embed_dim, embed_dim)
        _init_fused(self.q_proj, 1)
        _init_fused(self.kv_proj, 2)
        _init_out(self.out_proj)
        self.init_incremental_state()

    def forward(
        self,
        x: torch.Tensor,
        memory: torch.Tensor | None,
        attn_mask: torch.Tensor | None = None,
        incremental_state: IncrementalStateDict | None = None,
        need_weights: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Attend from ``x`` (B x T x C) over ``memory`` (B x S x C'); return output and weights.

        ``memory`` (and ``attn_mask``) may instead have one row per group of ``G`` consecutive
        rows of ``x`` (beam search: the ``G`` hypotheses of a sentence): each group's queries
        then attend together over their one shared row, which is never copied per hypothesis.
        """
        bsz, length, _ = x.shape
        k, v = self._keys_values(memory, incremental_state)
        group = self._group(bsz, k.size(0), incremental_state)
        if group > 1 and attn_mask is not None and attn_mask.size(0) == bsz:
            attn_mask = attn_mask[::group]  # a group's rows share one memory row, so one mask row
        # a group's queries become extra query positions of its shared memory row
        q = self.q_proj(x).view(k.size(0), group * length, self.num_heads, self.head_dim).transpose(1, 2)
        dropout = self.dropout if self.training else 0.0
        weights = None
        if need_weights:
            out, weights = _attend_with_weights(q, k, v, attn_mask, dropout)
            weights = weights.reshape(bsz, length, -1)
        else:
            out = attend(q, k, v, attn_mask=attn_mask, dropout_p=dropout)
        return self.out_proj(out.transpose(1, 2).reshape(bsz, length, self.embed_dim)), weights

    def _group(self, rows: int, memory_rows: int, incremental_state: IncrementalStateDict | None) -> int:
        if rows == memory_rows:
            return 1
        if memory_rows == 0 or rows % memory_rows:
            raise ValueError(
                f"encoder-decoder attention got {rows} decoder rows for {memory_rows} encoder rows; "
                "pass one encoder row per decoder row, or per group of equally many consecutive rows"
            )
        state = self.get_incremental_state(incremental_state, "static_kv")
        if state is not None:
            state["group"] = rows // memory_rows
        return rows // memory_rows

    def _keys_values(
        self, memory: torch.Tensor | None, incremental_state: IncrementalStateDict | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        state: dict[str, Any] | None = self.get_incremental_state(incremental_state, "static_kv")
        if state is not None:
            return state["k"], state["v"]
        if memory is None:
            raise ValueError("encoder-decoder attention needs the encoder output (encoder_out)")
        bsz, src_len, _ = memory.shape
        kv = self.kv_proj(memory).view(bsz, src_len, 2, self.num_heads, self.head_dim)
        k, v = _split_heads(kv)
        if incremental_state is not None:
            self.set_incremental_state(incremental_state, "static_kv", {"k": k, "v": v})
        return k, v

    def reorder_incremental_state(
        self, incremental_state: IncrementalStateDict, new_order: torch.Tensor
    ) -> None:
        """Reorder the cached encoder keys and values along the batch (beam search).

        With grouped rows (one encoder row per group of ``G`` decoder rows) hypotheses move only
        within their sentence, so the cache changes only when sentences leave the batch: it then
        keeps the rows of the sentences that ``new_order`` still draws from, in its order. An
        order that turns every row into ``G`` consecutive copies of it (the first step of beam
        search) starts grouping instead of copying.
        """
        state = self.get_incremental_state(incremental_state, "static_kv")
        if state is None:
            return
        group, rows = state.get("group", 1), state["k"].size(0)
        if group > 1:
            if new_order.numel() == rows * group:
                return  # every sentence stays, in place
            new_order = new_order[::group].div(group, rounding_mode="floor")
        elif new_order.numel() > rows and new_order.numel() % rows == 0:
            copies = new_order.numel() // rows
            every_row_copied = torch.arange(rows, device=new_order.device).repeat_interleave(copies)
            if torch.equal(new_order, every_row_copied):
                state["group"] = copies  # beam search's first step: the copies share their row
                return
        rows = new_order.numel()
        if reorder_rows_in_place((state["k"], state["v"]), new_order):
            state["k"], state["v"] = state["k"][:rows], state["v"][:rows]
            return
        state["k"] = state["k"].index_select(0, new_order)
        state["v"] = state["v"].index_select(0, new_order)

    def merge_incremental_state(
        self, incremental_state: IncrementalStateDict, other: IncrementalStateDict
    ) -> None:
        """Append the cached encoder keys and values of ``other`` after this decode's, padded to the longer source."""
        mine, theirs = _both_states(self, incremental_state, other, "static_kv")
        if mine is None or theirs is None:
            return
        if mine.get("group", 1) != theirs.get("group", 1):
            raise ValueError(
                f"cannot merge decodes with {mine.get('group', 1)} and {theirs.get('group', 1)} "
                "decoder rows per encoder row"
            )
        for name in ("k", "v"):  # B x H x S x D
            mine[name] = concat_padded(mine[name], theirs[name], 0, 2)


def _both_states(
    module: IncrementalState, first: IncrementalStateDict, second: IncrementalStateDict, key: str
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """``module``'s state under ``key`` in two decodes, which must both have it or both lack it."""
    mine, theirs = module.get_incremental_state(first, key), module.get_incremental_state(second, key)
    if (mine is None) != (theirs is None):
        raise ValueError(f"cannot merge a decode that has cached '{key}' with one that has not")
    return mine, theirs
