"""What may come next: the constraints applied to each step's log-probabilities, all vectorised.

Applied in this order, so that a later rule wins over an earlier one:
``<pad>`` never, ``--unkpen``, ``--min-len`` (and, with ``--match-source-len``, no
end-of-sentence before each sentence's own maximum length), ``--no-repeat-ngram-size``,
forced prefix tokens, then end-of-sentence forced at each sentence's own maximum length
(so every hypothesis can still end there).
"""

from __future__ import annotations

import torch

NEG_INF = float("-inf")


def only_token(lprobs: torch.Tensor, token: torch.Tensor) -> torch.Tensor:
    """Each row allowing only its ``token`` (B), with that token's own log-probability."""
    kept = lprobs.gather(1, token.unsqueeze(1))
    return torch.full_like(lprobs, NEG_INF).scatter_(1, token.unsqueeze(1), kept)


def ban_repeated_ngrams(lprobs: torch.Tensor, generated: torch.Tensor, n: int) -> torch.Tensor:
    """Forbid every token that would complete an n-gram already present in ``generated`` (B x T)."""
    length = generated.size(1)
    if n <= 0 or length < n:
        return lprobs
    windows = generated.unfold(1, n, 1)  # B x W x n, every n-gram so far
    current = generated[:, length - n + 1 :]  # the last n-1 tokens
    match = (windows[:, :, :-1] == current.unsqueeze(1)).all(dim=2)
    banned = windows[:, :, -1]
    penalty = torch.where(match, NEG_INF, 0.0).to(lprobs.dtype)
    # amin: a token banned by any matching window stays banned whatever the other windows say
    blocked = torch.zeros_like(lprobs).scatter_reduce_(1, banned, penalty, reduce="amin")
    return lprobs + blocked


class LogitRules:
    """The per-step constraints of one generator (special ids and the options that shape them)."""

    def __init__(
        self,
        pad: int,
        unk: int,
        eos: int,
        min_len: int,
        unk_penalty: float,
        no_repeat_ngram: int,
        exact_length: bool = False,
    ) -> None:
        self.pad, self.unk, self.eos = pad, unk, eos
        self.min_len = min_len
        self.exact_length = exact_length
        self.unk_penalty = unk_penalty
        self.no_repeat_ngram = no_repeat_ngram

    def apply(
        self,
        lprobs: torch.Tensor,
        step: int,
        tokens: torch.Tensor,
        max_lens: torch.Tensor,
        prefix: torch.Tensor | None,
        may_end: bool = True,
        finite: bool = False,
    ) -> torch.Tensor:
        """Constrain ``lprobs`` (B*K x V, modified in place) for ``step``.

        ``max_lens`` and ``prefix`` are per row (B*K); ``may_end`` says whether any row can
        have reached its maximum length, so that the check can be skipped until then;
        ``finite`` says that ``lprobs`` holds no NaN. Every rule sets a token to ``-inf``,
        subtracts a constant or keeps a token's own value, so the rules apply unchanged to
        logits that differ from the log-probabilities by a per-row constant.
        """
        if not finite:
            lprobs = torch.nan_to_num_(lprobs, nan=NEG_INF)
        lprobs[:, self.pad] = NEG_INF
        if self.unk_penalty:
            lprobs[:, self.unk] -= self.unk_penalty
        model_lprobs = lprobs
        if step < self.min_len:
            lprobs = lprobs.clone()
            lprobs[:, self.eos] = NEG_INF
        elif self.exact_length:
            lprobs = lprobs.clone()
            lprobs[:, self.eos].masked_fill_(max_lens.gt(step), NEG_INF)
        if self.no_repeat_ngram > 0:
            lprobs = ban_repeated_ngrams(lprobs, tokens[:, 1 : step + 1], self.no_repeat_ngram)
        if prefix is not None and step < prefix.size(1):
            wanted = prefix[:, step]
            forced = wanted.ne(self.pad)
            lprobs = torch.where(forced.unsqueeze(1), only_token(model_lprobs, wanted), lprobs)
        if not may_end:
            return lprobs
        at_end = max_lens.le(step).unsqueeze(1)
        eos = torch.full_like(max_lens, self.eos)
        return torch.where(at_end, only_token(model_lprobs, eos), lprobs)
