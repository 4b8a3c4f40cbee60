"""Attention alignments of finished hypotheses (fairseq's ``--print-alignment``).

A hypothesis' attention is its decoder's attention over the source in the last layer,
averaged over heads (and over an ensemble's models), one column per target token, as
fairseq's decoders return it. It is computed after the search, in one teacher-forced pass
over the hypotheses that are printed: the search saw the same weights step by step, and
carrying a source-length tensor per hypothesis through every step, reorder and merge of
the search would cost every decode what only alignments need.

A hard alignment pairs each target token (``</s>`` and ``<pad>`` excluded) with the source
token it attends to most (``</s>`` and ``<pad>`` excluded), as ``(source, target)`` indices
counted from 0 over those tokens; a soft alignment is every target token's weights over the
source tokens, ``</s>`` included on both sides, as fairseq prints them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from seqlab.core import SeqlabError

#: the two kinds of ``--print-alignment``
ALIGNMENT_KINDS = ("hard", "soft")


def check_alignment_models(models: Sequence[torch.nn.Module]) -> None:
    """Fail before decoding when a model has no encoder to align to."""
    if not all(getattr(m, "encoder", None) is not None for m in models):
        raise SeqlabError(
            "--print-alignment needs an encoder-decoder model: a language model attends to no source"
        )


@torch.no_grad()
def add_alignments(
    models: Sequence[torch.nn.Module],
    net_input: dict[str, Any],
    hypos: list[list[dict[str, Any]]],
    nbest: int,
    kind: str,
    pad: int,
    eos: int,
) -> None:
    """Set ``"attention"`` (source x target), ``"alignment"`` (of ``kind``) and ``"hard_alignment"`` of each sentence's first ``nbest`` hypotheses."""
    if kind not in ALIGNMENT_KINDS:
        raise ValueError(f"unknown alignment kind {kind!r}; expected one of {ALIGNMENT_KINDS}")
    chosen = [(i, hypo) for i, sentence in enumerate(hypos) for hypo in sentence[:nbest]]
    if not chosen:
        return
    src_tokens = net_input["src_tokens"]
    rows = torch.tensor([i for i, _ in chosen], device=src_tokens.device)
    attention = hypothesis_attention(models, net_input, rows, [h["tokens"] for _, h in chosen], pad, eos)
    for (i, hypo), attn in zip(chosen, attention):
        hypo["attention"] = attn.t()
        hypo["hard_alignment"] = hard_alignment(attn, src_tokens[i], hypo["tokens"], pad, eos)
        hypo["alignment"] = (
            hypo["hard_alignment"]
            if kind == "hard"
            else soft_alignment(attn, src_tokens[i], hypo["tokens"], pad, eos)
        )


def hypothesis_attention(
    models: Sequence[torch.nn.Module],
    net_input: dict[str, Any],
    rows: torch.Tensor,
    hypotheses: list[torch.Tensor],
    pad: int,
    eos: int,
) -> list[torch.Tensor]:
    """Each hypothesis' attention (its tokens x the batch's source width), ``rows`` naming its sentence."""
    device = net_input["src_tokens"].device
    lengths = [len(h) for h in hypotheses]
    # the decoder's input: </s>, then each hypothesis without its final </s>, right-padded
    prev = torch.full((len(hypotheses), max(lengths)), pad, dtype=torch.long, device=device)
    prev[:, 0] = eos
    for r, h in enumerate(hypotheses):
        prev[r, 1 : len(h)] = h[:-1].to(device)
    check_alignment_models(models)
    total = None
    for model in models:
        encoder = model.encoder
        encoder_out = encoder(net_input["src_tokens"], src_lengths=net_input.get("src_lengths"))
        encoder_out = encoder.reorder_encoder_out(encoder_out, rows)
        _, extra = model.decoder(prev, encoder_out=encoder_out, features_only=True, need_attn=True)
        attn = extra.get("attn") if isinstance(extra, dict) else None
        attn = attn[0] if isinstance(attn, (list, tuple)) and attn else attn
        if not isinstance(attn, torch.Tensor):
            raise SeqlabError(
                f"--print-alignment: {type(model.decoder).__name__} returns no attention over the "
                "source (need_attn); use a model whose decoder attends to the encoder output"
            )
        attn = attn.float()
        total = attn if total is None else total + attn
    assert total is not None
    total = total / len(models)
    return [total[r, :n] for r, n in enumerate(lengths)]


def hard_alignment(
    attn: torch.Tensor, src_tokens: torch.Tensor, tgt_tokens: torch.Tensor, pad: int, eos: int
) -> list[tuple[int, int]]:
    """``(source, target)`` index pairs: each target token and the source token it attends to most."""
    tgt_tokens = tgt_tokens.to(attn.device)
    src_tokens = src_tokens.to(attn.device)
    tgt_valid = tgt_tokens.ne(pad) & tgt_tokens.ne(eos)
    src_valid = src_tokens.ne(pad) & src_tokens.ne(eos)
    if not bool(tgt_valid.any()) or not bool(src_valid.any()):
        return []
    weights = attn[tgt_valid].masked_fill(~src_valid, float("-inf"))
    src_rank = src_valid.long().cumsum(0) - 1
    source = src_rank[weights.argmax(dim=1)].tolist()
    target = range(len(source))
    return list(zip(source, target))


def soft_alignment(
    attn: torch.Tensor, src_tokens: torch.Tensor, tgt_tokens: torch.Tensor, pad: int, eos: int
) -> list[list[str]]:
    """Each target token's weights over the source tokens, as fairseq formats them (6 decimals)."""
    tgt_valid = tgt_tokens.to(attn.device).ne(pad)
    src_valid = src_tokens.to(attn.device).ne(pad)
    weights = attn[tgt_valid][:, src_valid]
    return [[f"{p:.6f}" for p in row] for row in weights.tolist()]


def alignment_text(alignment: list[Any], kind: str) -> str:
    """The text after ``A-<id>\\t``: ``s-t`` pairs (hard) or comma-joined weights per target token (soft)."""
    if kind == "hard":
        return " ".join(f"{s}-{t}" for s, t in alignment)
    return " ".join(",".join(weights) for weights in alignment)
