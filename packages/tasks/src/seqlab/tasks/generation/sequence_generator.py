"""Beam search and sampling over the incremental-decoder contract (fairseq's ``SequenceGenerator``).

Per step: one decoder call per model on the batch's live hypotheses (B*K rows), the
constraints of :mod:`.logit_rules`, one top-k over K x V candidates per sentence (or one
draw per hypothesis), finished hypotheses stored with tensor ops, and one reordering of
the decoder caches. A sentence leaves the batch as soon as it has K finished hypotheses,
reaches its own maximum length, or has no live hypothesis left; the encoder output is
reordered only then, since every hypothesis of a sentence shares the same encoder rows.
Rows move as little as possible, so that caches can copy only the rows that change: a
hypothesis' best child takes its row (:mod:`.beam_slots`), and a sentence leaving the
batch is replaced by the last ones instead of shifting all that follow it.
When every decoder ``supports_grouped_encoder_out``, the encoder output (and the decoders'
cached encoder keys and values) keep one row per sentence instead of one per hypothesis.

Scores follow fairseq: a hypothesis' score is the sum of its tokens' log-probabilities
(``</s>`` included) divided by ``length ** lenpen``; ``positional_scores`` holds each
token's log-probability. The maximum length is ``max_len_a * x + max_len_b`` with ``x``
the sentence's own source length (non-pad tokens), so a sentence gets the same output
alone or in any batch; with ``match_source_len`` it is the number of source tokens other
than ``</s>``, and ``</s>`` is allowed only there.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import torch

from seqlab.core import ConfigError

from .beam_slots import parent_slot_order, sentences_kept_in_place
from .config import GenerationConfig
from .constraints import ConstraintState, SentenceConstraints, constrained_candidates
from .diverse_beam import diverse_beam_candidates
from .ensemble import EnsembleModel
from .finalized import FinalizedHypotheses
from .logit_rules import LogitRules
from .search import beam_candidates, sample_candidates
from .search_state import Search
from .tail_merging import merged_batches

NEG_INF = float("-inf")


class SequenceGenerator:
    """Generates hypotheses for a batch with one model or an ensemble."""

    def __init__(
        self,
        models: Sequence[torch.nn.Module],
        tgt_dict: Any,
        cfg: GenerationConfig | None = None,
        max_len: int | None = None,
        eos: int | None = None,
        lm_model: torch.nn.Module | None = None,
        lm_weight: float = 0.0,
    ) -> None:
        self.model = EnsembleModel(models, lm_model, lm_weight)
        self.cfg = cfg or GenerationConfig()
        self.cfg.validate()
        self.tgt_dict = tgt_dict
        self.pad, self.unk = tgt_dict.pad(), tgt_dict.unk()
        self.eos = tgt_dict.eos() if eos is None else eos
        self.vocab_size = len(tgt_dict)
        self.beam_size = self.cfg.beam
        # the longest hypothesis (tokens, </s> excluded) the models can decode
        self.max_len = self.model.max_decoder_positions() - 1
        if max_len is not None:
            self.max_len = min(self.max_len, max_len)
        self.rules = LogitRules(
            self.pad,
            self.unk,
            self.eos,
            self.cfg.min_len,
            self.cfg.unkpen,
            self.cfg.no_repeat_ngram_size,
            exact_length=self.cfg.match_source_len,
        )
        self.symbols_to_strip_from_output = {self.eos}

    def __call__(self, sample: dict[str, Any], **kwargs: Any) -> list[list[dict[str, Any]]]:
        """Same as :meth:`generate` with this generator's models."""
        return self.generate(self.model.models, sample, **kwargs)

    @torch.no_grad()
    def generate(
        self,
        models: Any,
        sample: dict[str, Any],
        prefix_tokens: torch.Tensor | None = None,
        bos_token: int | None = None,
        constraints: Sequence[Sequence[Sequence[int]]] | None = None,
        ordered: bool = True,
        **kwargs: Any,
    ) -> list[list[dict[str, Any]]]:
        """Return, for each sentence of ``sample`` (in batch order), its hypotheses best first.

        ``models`` is accepted for fairseq's callers; the generator's own are used.
        ``prefix_tokens`` (B x P, right-padded with ``<pad>``) are forced as the first tokens.
        ``constraints`` gives each sentence the phrases (lists of token ids) its hypotheses must
        contain (:mod:`.constraints`; ``ordered`` in the order given).
        """
        search = self.start(sample, prefix_tokens, bos_token)
        if search is None:
            return []
        if constraints is not None:
            if self.cfg.sampling or self.cfg.diverse_beam_groups > 1 or self.cfg.diversity_rate >= 0:
                raise ConfigError(
                    "lexical constraints need plain beam search: drop --sampling and the diverse searches"
                )
            search.constraints = [SentenceConstraints([list(p) for p in c], ordered) for c in constraints]
            search.constraint_states = [[ConstraintState()] * self.beam_size for _ in constraints]
        while self.advance(search) is not None:
            pass
        return search.finalized.to_lists()

    @torch.no_grad()
    def generate_batches(
        self, samples: Iterable[dict[str, Any]]
    ) -> Iterator[tuple[dict[str, Any], list[list[dict[str, Any]]]]]:
        """Yield ``(sample, hypotheses)`` for every batch, each as soon as all its sentences are done.

        Where the models can merge decodes (:attr:`EnsembleModel.can_merge`), the last few
        sentences of a batch are decoded together with the next batch (:mod:`.tail_merging`),
        so batches may finish out of order; otherwise this is :meth:`generate` batch by batch.
        """
        if not self.model.can_merge:
            for sample in samples:
                yield sample, self.generate(self.model.models, sample)
            return
        yield from merged_batches(self, samples)

    def start(
        self,
        sample: dict[str, Any],
        prefix_tokens: torch.Tensor | None = None,
        bos_token: int | None = None,
    ) -> Search | None:
        """Encode ``sample`` and set up its search before the first step (None for an empty batch)."""
        net_input = sample["net_input"]
        src_tokens = net_input["src_tokens"]
        device = src_tokens.device
        bsz, beam = src_tokens.size(0), self.beam_size
        cfg = self.cfg
        if bsz == 0:
            return None

        if cfg.match_source_len:
            max_lens = (src_tokens.ne(self.pad) & src_tokens.ne(self.eos)).sum(dim=1).clamp(max=self.max_len)
        else:
            src_len = src_tokens.ne(self.pad).sum(dim=1)
            max_lens = (cfg.max_len_a * src_len + cfg.max_len_b).long().clamp(min=0, max=self.max_len)
        max_len = int(max_lens.max())
        if prefix_tokens is not None:
            prefix_tokens = prefix_tokens.to(device).repeat_interleave(beam, dim=0)

        self.model.reset()
        encoder_outs = self.model.forward_encoder(net_input)
        if not self.model.grouped_encoder_out:
            per_beam = torch.arange(bsz, device=device).repeat_interleave(beam)
            encoder_outs = self.model.reorder_encoder_out(encoder_outs, per_beam)

        tokens = torch.full((bsz * beam, max_len + 2), self.pad, dtype=torch.long, device=device)
        tokens[:, 0] = self.eos if bos_token is None else bos_token
        return Search(
            tokens=tokens,
            scores=torch.zeros(bsz * beam, max_len + 1, device=device),
            sentence_ids=torch.arange(bsz, device=device),
            max_lens=max_lens,
            row_max_lens=max_lens.repeat_interleave(beam),
            earliest_end=int(max_lens.min()),  # no row is forced to end before this step
            prefix_tokens=prefix_tokens,
            encoder_outs=encoder_outs,
            states=self.model.states,
            finalized=FinalizedHypotheses(bsz, beam, max_len, device),
        )

    def advance(self, search: Search) -> torch.Tensor | None:
        """Decode one step of ``search``; return the ids of the sentences it finished, None once none is left.

        The ids index ``search.finalized`` (an empty tensor when no sentence finished).
        """
        cfg, beam, device = self.cfg, self.beam_size, search.tokens.device
        self.model.states = search.states
        step, tokens, scores, sentence_ids = search.step, search.tokens, search.scores, search.sentence_ids
        encoder_outs, finalized, max_lens = search.encoder_outs, search.finalized, search.max_lens
        grouped = self.model.grouped_encoder_out
        len_penalty = None if cfg.unnormalized else cfg.lenpen
        # one plain log-softmax model: its log-softmax in one fused pass, rows free of NaN
        fused_log_softmax = not cfg.sampling and self.model.normalizes_by_log_softmax

        n = sentence_ids.numel()
        prev = scores[:, step - 1].view(n, beam) if step > 0 else None
        # at step 0 the hypotheses of a sentence are all the same: grouped decoders decode one
        # row per sentence, and the first reorder copies its cache to the other hypotheses
        hyps = 1 if grouped and step == 0 and beam > 1 and not cfg.sampling else beam
        step_tokens, step_max_lens, step_prefix = (
            (tokens, search.row_max_lens, search.prefix_tokens)
            if hyps == beam
            else _first_of_each(beam, tokens, search.row_max_lens, search.prefix_tokens)
        )
        if fused_log_softmax:
            lprobs = self.model.forward_decoder_log_softmax(
                step_tokens[:, : step + 1], encoder_outs, cfg.temperature
            )
        else:
            lprobs = self.model.forward_decoder(step_tokens[:, : step + 1], encoder_outs, cfg.temperature)
        lprobs = self.rules.apply(
            lprobs,
            step,
            step_tokens,
            step_max_lens,
            step_prefix,
            may_end=step >= search.earliest_end,
            finite=fused_log_softmax,
        ).view(n, hyps, -1)
        cand_states = None
        if search.constraints is not None:
            cand_scores, cand_tokens, cand_beams, cand_states = self._constrained_candidates(
                search, lprobs, prev, hyps
            )
        elif cfg.sampling:
            cand_scores, cand_tokens, cand_beams = sample_candidates(
                step, lprobs, prev, cfg.sampling_topk, cfg.sampling_topp
            )
        elif cfg.diverse_beam_groups > 1:
            cand_scores, cand_tokens, cand_beams = diverse_beam_candidates(
                step, lprobs, prev, beam, cfg.diverse_beam_groups, cfg.diverse_beam_strength
            )
        else:
            sibling_penalty = max(cfg.diversity_rate, 0.0)
            cand_scores, cand_tokens, cand_beams = beam_candidates(step, lprobs, prev, beam, sibling_penalty)
        offsets = search.offsets
        if offsets is None or offsets.size(0) != n:
            offsets = search.offsets = (torch.arange(n, device=device) * beam).unsqueeze(1)
        cand_rows = cand_beams + offsets
        alive = torch.isfinite(cand_scores)
        ending = cand_tokens.eq(self.eos) & alive

        # hypotheses ending among the K best candidates are finished
        slot, accepted = finalized.slots(sentence_ids, ending[:, :beam])
        finalized.add(
            step,
            sentence_ids,
            accepted,
            slot,
            cand_rows[:, :beam],
            cand_scores[:, :beam],
            tokens,
            scores,
            self.eos,
            len_penalty,
        )

        # the K best candidates that go on; ended or impossible ones fill in only if needed
        blocked = ending | ~alive
        width = cand_scores.size(1)
        rank = blocked.long() * width + torch.arange(width, device=device)
        rank, active = rank.topk(beam, dim=1, largest=False)
        dead = rank.ge(width)
        done = finalized.count[sentence_ids].ge(beam) | max_lens[sentence_ids].le(step) | dead.all(dim=1)
        keep = sentences_kept_in_place(done)
        if keep.numel() == 0:
            return None

        active_rows = cand_rows.gather(1, active)
        next_tokens = cand_tokens.gather(1, active)
        next_scores = cand_scores.gather(1, active).masked_fill(dead, NEG_INF)
        # rows that stay put cost their caches nothing; diverse beam search's groups are slots
        if hyps == beam > 1 and not cfg.sampling and cfg.diverse_beam_groups <= 1:
            perm = parent_slot_order(active_rows - offsets)
            active_rows, next_tokens, next_scores = (
                t.gather(1, perm) for t in (active_rows, next_tokens, next_scores)
            )
            if cand_states is not None:
                active = active.gather(1, perm)
        removed = keep.numel() < n
        finished = sentence_ids[:0]
        if removed:
            finished = sentence_ids[done]
            active_rows, next_tokens, next_scores = active_rows[keep], next_tokens[keep], next_scores[keep]
            sentence_ids = search.sentence_ids = sentence_ids[keep]
            rows_kept = (keep.unsqueeze(1) * beam + torch.arange(beam, device=device)).view(-1)
            search.row_max_lens = search.row_max_lens.index_select(0, rows_kept)
            search.earliest_end = int(max_lens[sentence_ids].min())
            if search.prefix_tokens is not None:
                search.prefix_tokens = search.prefix_tokens.index_select(0, rows_kept)
            search.encoder_outs = self.model.reorder_encoder_out(encoder_outs, keep if grouped else rows_kept)
        if cand_states is not None:
            live = keep.tolist() if removed else range(n)
            chosen = active.tolist()
            search.constraint_states = [[cand_states[i][c] for c in chosen[i]] for i in live]
        order = active_rows.view(-1)
        search.tokens = tokens = tokens.index_select(0, order)
        tokens[:, step + 1] = next_tokens.view(-1)
        search.scores = scores = scores.index_select(0, order)
        scores[:, step] = next_scores.view(-1)
        if hyps < beam:  # the caches hold one row per sentence: each hypothesis takes its sentence's
            self.model.reorder_incremental_state(order.div(beam, rounding_mode="floor"))
        elif beam > 1 or removed:  # with one hypothesis per sentence the order only changes on removal
            self.model.reorder_incremental_state(order)
        search.step = step + 1
        return finished

    def _constrained_candidates(
        self,
        search: Search,
        lprobs: torch.Tensor,
        prev: torch.Tensor | None,
        hyps: int,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, list[list[ConstraintState]]]:
        """:func:`constrained_candidates` for the live sentences, ``</s>`` kept from unfinished hypotheses."""
        assert search.constraints is not None and search.constraint_states is not None
        step = search.step
        sentences = [search.constraints[i] for i in search.sentence_ids.tolist()]
        states = search.constraint_states
        unfinished = torch.tensor(
            [[not sent.finished(st) for st in row[:hyps]] for sent, row in zip(sentences, states)],
            device=lprobs.device,
        )
        # as in fairseq, even at the maximum length: there an unfinished hypothesis dies
        lprobs[..., self.eos] = lprobs[..., self.eos].masked_fill(unfinished, NEG_INF)
        return constrained_candidates(step, lprobs, prev, self.beam_size, sentences, states)


def _first_of_each(group: int, *per_row: torch.Tensor | None) -> tuple[torch.Tensor | None, ...]:
    """The first row of every group of ``group`` consecutive rows of each tensor (None stays None)."""
    return tuple(None if t is None else t[::group] for t in per_row)
