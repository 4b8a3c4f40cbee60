"""The merging part of ``check_incremental_decoder``: two decodes joined midway act as one.

A decoder that sets ``supports_merged_decoding`` lets beam search decode the last sentences
of a batch together with the next batch: both decode on their own up to a step, and from
then on their caches (``merge_incremental_state``) and encoder outputs (the encoder's
``merge_encoder_out``) are one, sources padded to the longer one. This check splits a batch
in two, with sources of different lengths, joins the halves midway, reorders the joined cache
as beam search does, and compares every step with the full forward pass.
"""

from __future__ import annotations

from typing import Any

import torch

from ..decoder import IncrementalDecoder
from .failures import Check


def compare_merged(
    check: Check,
    model: Any,
    decoder: IncrementalDecoder,
    net_input: dict[str, Any],
    tokens: torch.Tensor,
    steps: int,
    atol: float,
) -> None:
    """Decode two parts of the batch apart, join them at the middle step, and compare with the full pass."""
    check.expect(
        callable(getattr(model.encoder, "merge_encoder_out", None)),
        "the decoder sets supports_merged_decoding but the encoder has no merge_encoder_out(first, second)",
    )
    check.expect(steps >= 3, f"merging needs 3 or more decoding steps, got {steps}")
    full = model.get_normalized_probs(model(**net_input), log_probs=True)
    bsz = tokens.size(0)
    group = 2 if getattr(decoder, "supports_grouped_encoder_out", False) else 1
    merge_at = max(2, steps // 2)
    parts = [torch.arange(0, bsz, 2), torch.arange(1, bsz, 2)]
    decodes = [_Decode(check, model, part, net_input, group) for part in parts]
    for t in range(merge_at):
        for decode in decodes:
            decode.step(check, decoder, tokens, full, t, atol, "")
    first, second = decodes
    with check.step(f"merge_incremental_state at step {merge_at}"):
        decoder.merge_incremental_state(first.state, second.state)
    with check.step(f"encoder.merge_encoder_out at step {merge_at}"):
        first.encoder_out = model.encoder.merge_encoder_out(first.encoder_out, second.encoder_out)
    first.sentences = torch.cat([first.sentences, second.sentences])
    first.rows = torch.cat([first.rows, second.rows])
    for t in range(merge_at, steps):
        if t == merge_at + 1:  # the joined cache follows beam search's reorders: a sentence leaves
            kept = torch.arange(first.sentences.numel() - 1, 0, -1)
            order = (kept.unsqueeze(1) * group + torch.arange(group)).reshape(-1)
            with check.step("reorder_incremental_state of the merged cache"):
                decoder.reorder_incremental_state(first.state, order)
                first.encoder_out = model.encoder.reorder_encoder_out(first.encoder_out, kept)
            first.sentences, first.rows = first.sentences[kept], first.rows[order]
        first.step(check, decoder, tokens, full, t, atol, f" after merging two decodes at step {merge_at}")


class _Decode:
    """One part of the batch, decoded on its own until it is merged."""

    def __init__(
        self, check: Check, model: Any, sentences: torch.Tensor, net_input: dict[str, Any], group: int
    ):
        self.model, self.sentences, self.group, self.state = model, sentences, group, {}
        self.rows = sentences  # the first step decodes one row per sentence, as beam search does
        src = net_input["src_tokens"].index_select(0, sentences)
        pad = getattr(getattr(model.encoder, "dictionary", None), "pad", lambda: None)()
        if pad is not None:  # each part's source only as long as its longest sentence
            src = src[:, src.ne(pad).any(dim=0)]
        lengths = net_input["src_lengths"].index_select(0, sentences)
        with check.step("encoding the source"):
            self.encoder_out = model.encoder(src, src_lengths=lengths)

    def step(
        self,
        check: Check,
        decoder: IncrementalDecoder,
        tokens: torch.Tensor,
        full: torch.Tensor,
        t: int,
        atol: float,
        where: str,
    ) -> None:
        """Decode step ``t`` and compare it with the full forward pass."""
        if t == 1:  # beam search's first reorder: every row becomes its group
            copies = torch.arange(self.sentences.numel()).repeat_interleave(self.group)
            with check.step("reorder_incremental_state copying every row into a group"):
                decoder.reorder_incremental_state(self.state, copies)
            self.rows = self.sentences.repeat_interleave(self.group)
        with check.step(f"incremental decoding at step {t}{where}"):
            out = decoder(
                tokens[self.rows, : t + 1], encoder_out=self.encoder_out, incremental_state=self.state
            )
        step = self.model.get_normalized_probs(out, log_probs=True)
        diff = (step[:, -1] - full[self.rows, t]).abs().max().item()
        check.expect(
            diff <= atol,
            f"with supports_merged_decoding, decoding differs from the full forward pass at step {t}{where} "
            f"(max |difference| {diff:.3g} > {atol}); merge_incremental_state must append the second "
            "decode's cached rows after the first's, and merge_encoder_out its encoder rows likewise",
        )
