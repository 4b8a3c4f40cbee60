"""``check_incremental_decoder``: decoding step by step with a cache equals the full forward pass."""

from __future__ import annotations

from typing import Any

import torch

from ..decoder import IncrementalDecoder
from ..model import LanguageModel
from .batches import language_model_batch, translation_batch
from .dummy_task import DummyTask
from .failures import Check
from .merge_checks import compare_merged


def check_incremental_decoder(
    model: Any,
    sample: dict[str, Any] | None = None,
    steps: int = 7,
    seed: int = 0,
    atol: float = 1e-5,
) -> None:
    """Check that incremental decoding gives the full forward pass's log-probabilities at every step.

    Two caches decode at once (a decoder must keep its cache in ``incremental_state``,
    not on itself); one is reordered twice with ``reorder_incremental_state`` as a beam
    search does: by a random permutation, then by a selection that repeats and drops rows.
    Without ``sample``, sentences of ``steps`` target tokens are made from the decoder's
    dictionary (for encoder-decoder models also from the encoder's). A decoder that sets
    ``supports_grouped_encoder_out`` also decodes two rows per sentence over one encoder row
    per sentence: one row per sentence at the first step, then each row copied into two,
    reordered within sentences, and then with a sentence dropped. A decoder that sets
    ``supports_merged_decoding`` also decodes two halves of the batch apart and then, from the
    middle step on, merged into one (:mod:`.merge_checks`).
    """
    check = Check("check_incremental_decoder", type(model).__name__)
    decoder = getattr(model, "decoder", None)
    check.expect(
        isinstance(decoder, IncrementalDecoder),
        "model.decoder is not a seqlab.core.IncrementalDecoder (FairseqIncrementalDecoder)",
    )
    is_lm = isinstance(model, LanguageModel) or getattr(model, "encoder", None) is None
    if sample is None:
        sample = _sample(model, is_lm, steps, seed)
    net_input = sample["net_input"]
    tokens = net_input["src_tokens"] if is_lm else net_input["prev_output_tokens"]
    steps = min(steps, tokens.size(1))
    bsz = tokens.size(0)
    check.expect(bsz >= 3, f"the sample needs 3 or more sentences to reorder, got {bsz}")

    g = torch.Generator().manual_seed(seed)
    reorders = {
        max(1, steps // 3): ("a random permutation", torch.randperm(bsz, generator=g)),
        max(2, 2 * steps // 3): (
            "a selection that repeats and drops rows",
            torch.randint(0, bsz, (bsz - 1,), generator=g),
        ),
    }
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            _compare(check, model, decoder, net_input, tokens, is_lm, steps, reorders, atol)
            if not is_lm and getattr(decoder, "supports_grouped_encoder_out", False):
                _compare_grouped(check, model, decoder, net_input, tokens, steps, atol)
            if not is_lm and getattr(decoder, "supports_merged_decoding", False):
                compare_merged(check, model, decoder, net_input, tokens, steps, atol)
    finally:
        model.train(was_training)


def _sample(model: Any, is_lm: bool, steps: int, seed: int) -> dict[str, Any]:
    tgt_dict = model.decoder.dictionary
    if is_lm:
        return language_model_batch(tgt_dict, lengths=(steps,) * 4, seed=seed)
    src_dict = getattr(model.encoder, "dictionary", None) or DummyTask().source_dictionary
    lengths = [(n, steps) for n in (5, 3, 7, 4, 6)]
    return translation_batch(src_dict, tgt_dict, lengths=lengths, seed=seed)


def _compare(
    check: Check,
    model: Any,
    decoder: IncrementalDecoder,
    net_input: dict[str, Any],
    tokens: torch.Tensor,
    is_lm: bool,
    steps: int,
    reorders: dict[int, tuple[str, torch.Tensor]],
    atol: float,
) -> None:
    with check.step("the full forward pass"):
        full = model.get_normalized_probs(model(**net_input), log_probs=True)
    encoder_out = None
    if not is_lm:
        with check.step("encoding the source"):
            encoder_out = model.encoder(net_input["src_tokens"], src_lengths=net_input["src_lengths"])
    bsz = tokens.size(0)
    # cache A is reordered; cache B decodes the rows in reverse order, interleaved with A
    rows_a, state_a, enc_a = torch.arange(bsz), {}, encoder_out
    rows_b, state_b = torch.arange(bsz).flip(0), {}
    enc_b = None if is_lm else _reorder_encoder_out(check, model, encoder_out, rows_b)
    run = getattr(model, "forward_decoder", decoder)
    done = ""
    for t in range(steps):
        if t in reorders:
            what, order = reorders[t]
            with check.step(f"reorder_incremental_state with {what}"):
                decoder.reorder_incremental_state(state_a, order)
            if not is_lm:
                enc_a = _reorder_encoder_out(check, model, enc_a, order)
            rows_a = rows_a[order]
            done = f" after reorder_incremental_state with {what} at step {t}"
        for rows, state, enc, label in ((rows_a, state_a, enc_a, done), (rows_b, state_b, enc_b, "")):
            with check.step(f"incremental decoding at step {t}"):
                kwargs = (
                    {"incremental_state": state}
                    if is_lm
                    else {"encoder_out": enc, "incremental_state": state}
                )
                out = run(tokens[rows, : t + 1], **kwargs)
                step = model.get_normalized_probs(out, log_probs=True)
            check.expect(
                step.dim() == 3 and step.size(0) == len(rows),
                f"incremental decoding at step {t} gives shape {tuple(step.shape)}; expected "
                f"{len(rows)} rows x new positions x vocabulary",
            )
            diff = (step[:, -1] - full[rows, t]).abs().max().item()
            where = label or " with a second cache decoding other rows at the same time"
            check.expect(
                diff <= atol,
                f"incremental decoding differs from the full forward pass at step {t}{where} "
                f"(max |difference| {diff:.3g} > {atol}); the cache must live in incremental_state "
                "and be reordered by reorder_incremental_state",
            )


def _reorder_encoder_out(check: Check, model: Any, encoder_out: Any, order: torch.Tensor) -> Any:
    with check.step("encoder.reorder_encoder_out"):
        return model.encoder.reorder_encoder_out(encoder_out, order)


def _compare_grouped(
    check: Check,
    model: Any,
    decoder: IncrementalDecoder,
    net_input: dict[str, Any],
    tokens: torch.Tensor,
    steps: int,
    atol: float,
) -> None:
    # beam search's layout: G consecutive rows per sentence over one encoder row per sentence
    group, bsz = 2, tokens.size(0)
    full = model.get_normalized_probs(model(**net_input), log_probs=True)
    with check.step("encoding the source"):
        encoder_out = model.encoder(net_input["src_tokens"], src_lengths=net_input["src_lengths"])
    sentences = torch.arange(bsz)
    rows = sentences.clone()  # step 0 decodes one row per sentence, as beam search does
    swap = (torch.arange(bsz * group).view(bsz, group).flip(1)).reshape(-1)  # within each sentence
    keep = torch.arange(bsz - 1, 0, -1)  # drop sentence 0, reverse the others
    reorders = {
        1: ("every row copied into a group", sentences.repeat_interleave(group), None),
        max(2, steps // 3): ("rows swapped within their sentence", swap, None),
        max(3, 2 * steps // 3): (
            "a sentence dropped",
            (keep.unsqueeze(1) * group + torch.arange(group)).reshape(-1),
            keep,
        ),
    }
    state: dict = {}
    done = ""
    for t in range(steps):
        if t in reorders:
            what, order, kept = reorders[t]
            with check.step(f"reorder_incremental_state with grouped rows ({what})"):
                decoder.reorder_incremental_state(state, order)
            if kept is not None:
                encoder_out = _reorder_encoder_out(check, model, encoder_out, kept)
                sentences = sentences[kept]
            rows = rows[order]
            done = f" after {what} at step {t}"
        with check.step(f"incremental decoding of grouped rows at step {t}"):
            step = model.get_normalized_probs(
                decoder(tokens[rows, : t + 1], encoder_out=encoder_out, incremental_state=state),
                log_probs=True,
            )
        diff = (step[:, -1] - full[rows, t]).abs().max().item()
        check.expect(
            diff <= atol,
            f"with supports_grouped_encoder_out, decoding {group} rows per sentence over one encoder row "
            f"per sentence differs from the full forward pass at step {t}{done} (max |difference| "
            f"{diff:.3g} > {atol}); set supports_grouped_encoder_out = False unless every use of "
            "encoder_out handles grouped rows",
        )
