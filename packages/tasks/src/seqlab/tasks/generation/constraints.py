"""Lexically constrained beam search (fairseq's ``--constraints``), by dynamic beam allocation.

Each sentence comes with phrases (lists of target token ids) that every hypothesis must
produce, in any order (``unordered``) or in the order given (``ordered``). A hypothesis keeps
a :class:`ConstraintState`: the phrases it has produced and how far into the current one it
is; a phrase counts when its tokens come one after the other. Phrases that start alike are
followed together, as fairseq's trie follows them: after ``New`` both ``New York`` and ``New
Jersey`` can go on. A token that breaks the phrase in progress falls back to the longest end of
the output that is an open phrase (met) or the start of one (after ``a a`` of ``a a b``,
another ``a`` keeps ``a a``; after ``x b`` of ``x b c``, ``d`` meets ``b d``), where fairseq's
trie goes back to its root, crediting only a phrase that ends on the path it leaves.
``</s>`` is allowed only once every phrase is produced, as in fairseq: a hypothesis still
short of them at the maximum length dies there, and a sentence none of whose hypotheses meets
them gets no output.

Each step a sentence's candidates are the 2K best continuations of plain beam search, each
hypothesis' own best token, and the tokens that advance each hypothesis' constraints. They
are grouped in banks by how many constraint tokens they have produced, and the 2K kept
are taken from the banks in turn, best first within each, from the fullest bank down (Post &
Vilar, 2018), so that hypotheses that have met more of the constraints are kept even when
their scores are lower. Without constraints a sentence's candidates are plain beam search's.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

NEG_INF = float("-inf")


@dataclass(frozen=True)
class ConstraintState:
    """A hypothesis' progress: the phrases produced, and the one in progress with its tokens so far."""

    met: frozenset[int] = frozenset()
    current: int = -1  # the phrase in progress, -1 for none
    matched: int = 0


class SentenceConstraints:
    """The phrases of one sentence and how a hypothesis' state moves with each token."""

    def __init__(self, phrases: list[list[int]], ordered: bool) -> None:
        self.phrases = [list(p) for p in phrases if p]
        self.ordered = ordered

    def _open(self, state: ConstraintState) -> list[int]:
        """The phrases that may start now: every unmet one, or only the next one in order."""
        unmet = [c for c in range(len(self.phrases)) if c not in state.met]
        return unmet[:1] if self.ordered else unmet

    def advance(self, state: ConstraintState, token: int) -> ConstraintState:
        """The state after ``token``."""
        if state.current >= 0:
            done = state.matched
            prefix = self.phrases[state.current][:done]
            candidates = self._open_first(state)
            for c in self._sharing(candidates, prefix):  # the phrase in progress first
                phrase = self.phrases[c]
                if phrase[done] == token:
                    if done + 1 == len(phrase):
                        return ConstraintState(state.met | {c})
                    return ConstraintState(state.met, c, done + 1)
            # broken: the longest end of the output that is an open phrase (met) or starts one
            seen = [*prefix, token]
            for k in range(done, 0, -1):
                tail = seen[-k:]
                whole = [c for c in candidates if self.phrases[c] == tail]
                if whole:
                    return ConstraintState(state.met | {whole[0]})
                sharing = self._sharing(candidates, tail)
                if sharing:
                    return ConstraintState(state.met, sharing[0], k)
            state = ConstraintState(state.met)
        for c in self._open(state):
            if self.phrases[c][0] == token:
                if len(self.phrases[c]) == 1:
                    return ConstraintState(state.met | {c})
                return ConstraintState(state.met, c, 1)
        return state

    def _open_first(self, state: ConstraintState) -> list[int]:
        """The phrases that may start now, the one in progress first."""
        open_ = self._open(state)
        if state.current in open_:
            open_.remove(state.current)
            open_.insert(0, state.current)
        return open_

    def _sharing(self, candidates: list[int], prefix: list[int]) -> list[int]:
        """Those of ``candidates`` that start with ``prefix`` and go on after it, in their order."""
        k = len(prefix)
        return [c for c in candidates if len(self.phrases[c]) > k and self.phrases[c][:k] == prefix]

    def next_tokens(self, state: ConstraintState) -> list[int]:
        """The tokens that would advance ``state``."""
        if state.current >= 0:
            done = state.matched
            sharing = self._sharing(self._open_first(state), self.phrases[state.current][:done])
            return sorted({self.phrases[c][done] for c in sharing})
        return sorted({self.phrases[c][0] for c in self._open(state)})

    def bank(self, state: ConstraintState) -> int:
        """How many constraint tokens ``state`` has produced."""
        return sum(len(self.phrases[c]) for c in state.met) + state.matched

    def finished(self, state: ConstraintState) -> bool:
        """Whether every phrase is produced."""
        return len(state.met) == len(self.phrases)


def constrained_candidates(
    step: int,
    lprobs: torch.Tensor,
    prev_scores: torch.Tensor | None,
    beam: int,
    constraints: list[SentenceConstraints],
    states: list[list[ConstraintState]],
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, list[list[ConstraintState]]]:
    """``(scores, tokens, beams)`` (B x 2K, as beam search's) and each candidate's constraint state.

    ``lprobs`` is B x K x V (B x 1 x V at step 0, when all hypotheses are the same) with ``</s>``
    already forbidden where a hypothesis may not end; ``states`` holds each sentence's K states.
    """
    bsz, hyps, vocab = lprobs.shape
    width = 2 * beam
    if step == 0:
        lprobs, prev_scores, hyps = lprobs[:, :1, :], None, 1
    totals = lprobs if prev_scores is None else lprobs + prev_scores[:, :hyps].unsqueeze(2)
    _, top_index = totals.reshape(bsz, -1).topk(min(width, hyps * vocab), dim=1)
    best = totals.argmax(dim=2)
    rows: list[list[tuple[float, int, int]]] = []
    out_states: list[list[ConstraintState]] = []
    for s in range(bsz):
        sent, sent_states = constraints[s], states[s]
        pairs = {(i // vocab, i % vocab) for i in top_index[s].tolist()}
        pairs |= {(b, t) for b, t in enumerate(best[s].tolist())}
        for b in range(hyps):
            pairs |= {(b, t) for t in sent.next_tokens(sent_states[b])}
        banks: dict[int, list[tuple[float, int, int, ConstraintState]]] = {}
        flat = totals[s]
        for b, t in pairs:
            score = float(flat[b, t].detach())
            if score == NEG_INF:
                continue
            state = sent.advance(sent_states[b], t)
            banks.setdefault(sent.bank(state), []).append((score, b, t, state))
        chosen = _by_banks(banks, width)
        rows.append([(c[0], c[2], c[1]) for c in chosen] + [(NEG_INF, 0, 0)] * (width - len(chosen)))
        out_states.append([c[3] for c in chosen] + [ConstraintState()] * (width - len(chosen)))
    scores, tokens, beams = zip(*(zip(*row) for row in rows))
    device = lprobs.device
    return (
        torch.tensor(scores, device=device),
        torch.tensor(tokens, dtype=torch.long, device=device),
        torch.tensor(beams, dtype=torch.long, device=device),
        out_states,
    )


def _by_banks(
    banks: dict[int, list[tuple[float, int, int, ConstraintState]]], width: int
) -> list[tuple[float, int, int, ConstraintState]]:
    """Up to ``width`` candidates taken from the banks in turn, fullest bank first, best first in each."""
    queues = [sorted(banks[k], key=lambda c: (-c[0], c[1], c[2])) for k in sorted(banks, reverse=True)]
    chosen: list[tuple[float, int, int, ConstraintState]] = []
    depth = 0
    while len(chosen) < width and any(depth < len(q) for q in queues):
        chosen.extend(q[depth] for q in queues if depth < len(q))
        depth += 1
    # in this order: the search keeps the first K that go on, so the banks share the beam
    return chosen[:width]
