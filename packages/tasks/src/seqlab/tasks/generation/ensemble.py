"""Several models decoded as one: their next-token distributions are averaged at every step.

Each model keeps its own incremental state. The averaged distribution is the mean of the
models' probabilities, computed in log space (fairseq's ensembling), so an ensemble of one
model with itself gives exactly that model's log-probabilities. A language model given as
``lm`` is fused shallowly (fairseq's ``--lm-path``/``--lm-weight``): its next-token
log-probabilities, times ``lm_weight``, are added to the ensemble's; it decodes the same
hypotheses with an incremental state of its own, reordered and merged with the others.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch

from seqlab.core import BaseModel, Decoder, IncrementalDecoder


class EnsembleModel:
    """Runs the encoders once and the decoders step by step, caching where the decoders can."""

    def __init__(
        self, models: Sequence[torch.nn.Module], lm: torch.nn.Module | None = None, lm_weight: float = 0.0
    ) -> None:
        if not models:
            raise ValueError("an ensemble needs at least one model")
        self.models = list(models)
        self.lm, self.lm_weight = lm, lm_weight
        # every model that decodes, the fused language model last
        self.decoding = self.models + ([lm] if lm is not None else [])
        self.has_encoder = all(getattr(m, "encoder", None) is not None for m in self.models)
        self.incremental = all(
            isinstance(getattr(m, "decoder", None), IncrementalDecoder) for m in self.decoding
        )
        self.states: list[dict[str, Any]] | None = None
        # the next-token logits of :meth:`forward_decoder_log_softmax`, reused step after step
        self._logits_buffer: torch.Tensor | None = None
        # one encoder row per sentence, shared by its hypotheses, when every decoder accepts it
        self.grouped_encoder_out = self.incremental and all(
            getattr(m.decoder, "supports_grouped_encoder_out", False) for m in self.models
        )

    @property
    def can_merge(self) -> bool:
        """Whether two decodes at the same step can become one (every decoder and encoder can merge)."""
        return (
            self.incremental
            and all(getattr(m.decoder, "supports_merged_decoding", False) for m in self.decoding)
            and (not self.has_encoder or all(hasattr(m.encoder, "merge_encoder_out") for m in self.models))
        )

    def merge_encoder_outs(self, first: list[Any] | None, second: list[Any] | None) -> list[Any] | None:
        """Every model's encoder output: ``first``'s rows, then ``second``'s."""
        if first is None or second is None:
            return None
        return [m.encoder.merge_encoder_out(a, b) for m, a, b in zip(self.models, first, second)]

    def merge_states(
        self, first: list[dict[str, Any]] | None, second: list[dict[str, Any]] | None
    ) -> list[dict[str, Any]] | None:
        """Every model's incremental state: ``first``'s rows, then ``second``'s (``first`` is extended in place)."""
        if first is None or second is None:
            return None
        for model, mine, theirs in zip(self.decoding, first, second):
            model.decoder.merge_incremental_state(mine, theirs)
        return first

    def max_decoder_positions(self) -> int:
        """The longest target every model accepts."""
        return min(int(m.max_decoder_positions()) for m in self.decoding)

    def reset(self) -> None:
        """Start a new decode: fresh incremental states."""
        self.states = [{} for _ in self.decoding] if self.incremental else None

    def forward_encoder(self, net_input: dict[str, Any]) -> list[Any] | None:
        """Encode the batch with every model (None for decoder-only models)."""
        if not self.has_encoder:
            return None
        src_tokens, src_lengths = net_input["src_tokens"], net_input.get("src_lengths")
        return [m.encoder(src_tokens, src_lengths=src_lengths) for m in self.models]

    def reorder_encoder_out(
        self, encoder_outs: list[Any] | None, new_order: torch.Tensor
    ) -> list[Any] | None:
        """Select batch rows of every model's encoder output."""
        if encoder_outs is None:
            return None
        return [m.encoder.reorder_encoder_out(out, new_order) for m, out in zip(self.models, encoder_outs)]

    def reorder_incremental_state(self, new_order: torch.Tensor) -> None:
        """Select batch rows of every model's decoder cache."""
        if self.states is None:
            return
        for model, state in zip(self.decoding, self.states):
            model.decoder.reorder_incremental_state(state, new_order)

    def forward_decoder(
        self, tokens: torch.Tensor, encoder_outs: list[Any] | None, temperature: float = 1.0
    ) -> torch.Tensor:
        """Return the log-probabilities (B x V, fp32) of the token after ``tokens`` (every token so far)."""
        log_probs = []
        for i, model in enumerate(self.models):
            logits, extra = self._next_logits(i, tokens, encoder_outs, temperature)
            log_probs.append(model.get_normalized_probs((logits, extra), log_probs=True)[:, -1, :].float())
        if len(log_probs) == 1:
            lprobs = log_probs[0]
        else:
            lprobs = torch.logsumexp(torch.stack(log_probs), dim=0) - math.log(len(log_probs))
        if self.lm is not None:
            lm_out = self._decode(len(self.models), tokens, None)
            lm_lprobs = self.lm.get_normalized_probs(lm_out, log_probs=True)[:, -1, :].float()
            lprobs = lprobs + self.lm_weight * lm_lprobs
        return lprobs

    @property
    def normalizes_by_log_softmax(self) -> bool:
        """Whether the next-token log-probabilities are one model's plain log-softmax of its logits."""
        if len(self.models) != 1 or self.lm is not None:
            return False
        model = self.models[0]
        decoder = getattr(model, "decoder", None)
        return (
            type(model).get_normalized_probs is BaseModel.get_normalized_probs
            and isinstance(decoder, Decoder)
            and decoder.normalizes_by_log_softmax()
        )

    def forward_decoder_log_softmax(
        self, tokens: torch.Tensor, encoder_outs: list[Any] | None, temperature: float = 1.0
    ) -> torch.Tensor:
        """Return the next token's log-probabilities (B x V, fp32), rows without any (NaN or inf logits) all ``-inf``.

        Equal to :meth:`forward_decoder` for :attr:`normalizes_by_log_softmax` ensembles, in fewer
        passes: the log-softmax is one fused pass per row, written over the logits where they are
        a tensor of their own (a fresh B x V buffer costs more in page faults than the pass), and
        the NaN-free guarantee comes from one column, since a row with a NaN or infinite logit, or
        with every logit ``-inf``, comes out of the log-softmax all NaN. Where the model exposes
        its output projection, the logits are projected here, on a CPU into one buffer kept from
        call to call: the result is valid only until the next call.
        """
        model = self.models[0]
        weight_of = getattr(model, "output_projection_weight", None)
        weight = weight_of() if weight_of is not None else None
        # under autocast the projection would run in the lower precision: the plain path keeps that
        if (
            weight is not None
            and weight.dtype == torch.float32
            and not torch.is_autocast_enabled(weight.device.type)
        ):
            logits = self._projected_logits(tokens, encoder_outs, weight)
            if temperature != 1.0:
                logits.div_(temperature)
            lprobs = torch._log_softmax(logits, 1, False, out=logits)
        else:
            logits, _ = self._next_logits(0, tokens, encoder_outs, temperature)
            # a division by the temperature and a cast are tensors of their own
            own = temperature != 1.0 or logits.dtype != torch.float32
            logits = logits[:, -1, :].float()
            if own and logits.is_contiguous():
                lprobs = torch._log_softmax(logits, 1, False, out=logits)
            else:
                lprobs = torch.log_softmax(logits, dim=1)
        bad = torch.isnan(lprobs[:, 0])
        if bool(bad.any()):
            lprobs.masked_fill_(bad.unsqueeze(1), float("-inf"))
        return lprobs

    def release_buffers(self) -> None:
        """Free what is kept from one decoding step to the next (the logits buffer on a CPU)."""
        self._logits_buffer = None

    def _projected_logits(
        self, tokens: torch.Tensor, encoder_outs: list[Any] | None, weight: torch.Tensor
    ) -> torch.Tensor:
        """The last position's logits (B x V) of the one model, projected into the kept buffer.

        On a CPU a fresh B x V tensor every step is a large allocation whose pages the C library
        may fault in again (tens of megabytes a step in beam search), so the buffer is kept and
        reused while it is large enough. An accelerator's caching allocator already reuses its
        blocks, and a kept buffer would hold memory that training needs between validations, so
        there each call takes a fresh one.
        """
        features, _ = self._decode(0, tokens, encoder_outs, features_only=True)
        features = features[:, -1, :]
        if features.dtype != weight.dtype:
            features = features.to(weight.dtype)
        rows, vocab = features.size(0), weight.size(0)
        buffer = self._logits_buffer
        if (
            buffer is None
            or buffer.size(0) < rows
            or buffer.size(1) != vocab
            or buffer.device != weight.device
            or buffer.dtype != weight.dtype
        ):
            buffer = weight.new_empty(rows, vocab)
            if weight.device.type == "cpu":
                self._logits_buffer = buffer
        return torch.mm(features, weight.t(), out=buffer[:rows])

    def _decode(self, i: int, tokens: torch.Tensor, encoder_outs: list[Any] | None, **kwargs: Any) -> Any:
        """Model ``i``'s decoder (the fused language model's after the models') over ``tokens``, with its state."""
        encoder_out = encoder_outs[i] if encoder_outs is not None and i < len(self.models) else None
        if self.states is not None:
            kwargs["incremental_state"] = self.states[i]
        return self.decoding[i].decoder(tokens, encoder_out=encoder_out, **kwargs)

    def _next_logits(
        self, i: int, tokens: torch.Tensor, encoder_outs: list[Any] | None, temperature: float
    ) -> tuple[torch.Tensor, Any]:
        logits, extra = self._decode(i, tokens, encoder_outs)
        logits = logits[:, -1:, :]
        if temperature != 1.0:
            logits = logits / temperature
        return logits, extra

    def score_tokens(self, net_input: dict[str, Any], target: torch.Tensor) -> torch.Tensor:
        """Log-probability of each target token under the averaged models (teacher forcing), B x T."""
        per_model = []
        for model in self.models:
            net_output = model(**net_input)
            lprobs = model.get_normalized_probs(net_output, log_probs=True).float()
            per_model.append(lprobs.gather(-1, target.unsqueeze(-1)).squeeze(-1))
        if len(per_model) == 1:
            return per_model[0]
        return torch.logsumexp(torch.stack(per_model), dim=0) - math.log(len(per_model))
