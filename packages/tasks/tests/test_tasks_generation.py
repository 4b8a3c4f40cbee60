"""The sequence generator on small recurrent models: greedy and beam search against plain references,
batch invariance, ensembles, sampling, prefixes and the per-step constraints."""

from __future__ import annotations

import argparse
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from seqlab.core import ConfigError, Encoder, EncoderDecoderModel, IncrementalDecoder, LanguageModel
from seqlab.core.dictionary import Dictionary
from seqlab.tasks.generation import EnsembleModel, GenerationConfig, SequenceGenerator
from seqlab.tasks.generation.constraints import ConstraintState, SentenceConstraints
from seqlab.tasks.generation.eval_bleu import ValidationBleu
from seqlab.tasks.generation.logit_rules import ban_repeated_ngrams
from seqlab.tasks.generation.search import row_topk, sample_candidates

PAD, EOS, UNK = 1, 2, 3


def make_dictionary(words: int = 9) -> Dictionary:
    d = Dictionary()
    for i in range(words):
        d.add_symbol(f"w{i}")
    return d


def _attend(h: torch.Tensor, memory: torch.Tensor, padding: torch.Tensor) -> torch.Tensor:
    scores = torch.bmm(memory, h.unsqueeze(2)).squeeze(2).masked_fill(padding, float("-inf"))
    return torch.bmm(scores.softmax(dim=1).unsqueeze(1), memory).squeeze(1)


class ToyEncoder(Encoder):
    def __init__(self, dictionary: Dictionary, dim: int) -> None:
        super().__init__(dictionary)
        self.embed = nn.Embedding(len(dictionary), dim, padding_idx=PAD)
        self.proj = nn.Linear(dim, dim)

    def forward(self, src_tokens, src_lengths=None, **kwargs):
        x = torch.tanh(self.proj(self.embed(src_tokens)))
        return {"encoder_out": [x.transpose(0, 1)], "encoder_padding_mask": [src_tokens.eq(PAD)]}

    def reorder_encoder_out(self, encoder_out, new_order):
        return {
            "encoder_out": [encoder_out["encoder_out"][0].index_select(1, new_order)],
            "encoder_padding_mask": [encoder_out["encoder_padding_mask"][0].index_select(0, new_order)],
        }


class ToyDecoder(IncrementalDecoder):
    """A GRU over the target with attention over the source; caches its hidden state."""

    def __init__(self, dictionary: Dictionary, dim: int, attend: bool = True) -> None:
        super().__init__(dictionary)
        self.dim, self.attend = dim, attend
        self.embed = nn.Embedding(len(dictionary), dim, padding_idx=PAD)
        self.cell = nn.GRUCell(2 * dim if attend else dim, dim)
        self.out = nn.Linear(2 * dim if attend else dim, len(dictionary))
        self.steps_seen: list[int] = []  # rows decoded per call, to watch the batch shrink

    def extract_features(self, prev_output_tokens, encoder_out=None, incremental_state=None, **kwargs):
        bsz, total = prev_output_tokens.shape
        state = self.get_incremental_state(incremental_state, "state")
        h = state["h"] if state else prev_output_tokens.new_zeros(bsz, self.dim, dtype=torch.float)
        start = state["length"] if state else 0
        if self.attend:
            memory = encoder_out["encoder_out"][0].transpose(0, 1)
            padding = encoder_out["encoder_padding_mask"][0]
        outs = []
        for t in range(start, total):
            x = self.embed(prev_output_tokens[:, t])
            if self.attend:
                x = torch.cat([x, _attend(h, memory, padding)], dim=1)
            h = self.cell(x, h)
            outs.append(torch.cat([h, _attend(h, memory, padding)], dim=1) if self.attend else h)
        self.steps_seen.append(bsz)
        if incremental_state is not None:
            self.set_incremental_state(incremental_state, "state", {"h": h, "length": total})
        return torch.stack(outs, dim=1), {"attn": None}

    def output_layer(self, features, **kwargs):
        return self.out(features)

    def reorder_incremental_state(self, incremental_state, new_order):
        state = self.get_incremental_state(incremental_state, "state")
        if state is not None:
            state["h"] = state["h"].index_select(0, new_order)

    def max_positions(self) -> int:
        return 40


class ToySeq2Seq(EncoderDecoderModel):
    @classmethod
    def build(cls, dictionary: Dictionary, seed: int, dim: int = 16) -> ToySeq2Seq:
        torch.manual_seed(seed)
        model = cls(ToyEncoder(dictionary, dim), ToyDecoder(dictionary, dim))
        with torch.no_grad():
            model.decoder.out.weight.mul_(4.0)  # peaked distributions: few near-ties between hypotheses
            model.decoder.out.bias[EOS] += 1.0  # hypotheses end at many different lengths
        return model.eval()


class ToyLM(LanguageModel):
    @classmethod
    def build(cls, dictionary: Dictionary, seed: int, dim: int = 16) -> ToyLM:
        torch.manual_seed(seed)
        return cls(ToyDecoder(dictionary, dim, attend=False)).eval()


def batch(sentences: list[list[int]]) -> dict:
    """A left-padded source batch (each sentence ends with </s>), as the translation task makes."""
    width = max(len(s) + 1 for s in sentences)
    src = torch.full((len(sentences), width), PAD, dtype=torch.long)
    for i, s in enumerate(sentences):
        src[i, width - len(s) - 1 :] = torch.tensor([*s, EOS])
    return {"net_input": {"src_tokens": src, "src_lengths": src.ne(PAD).sum(1)}}


SENTENCES = [[4, 5, 6, 7, 8, 9], [10, 4], [5, 5, 5, 6, 7], [11], [8, 9, 10, 11, 12, 4, 5, 6]]


@torch.no_grad()
def full_lprobs(model, sample_row: dict, prefix: list[int], temperature: float = 1.0) -> torch.Tensor:
    """The next-token log-probabilities after ``prefix`` by a full forward pass (no cache)."""
    tokens = torch.tensor([[EOS, *prefix]])
    if isinstance(model, LanguageModel):
        logits, _ = model.decoder(tokens)
    else:
        enc = model.encoder(sample_row["net_input"]["src_tokens"])
        logits, _ = model.decoder(tokens, encoder_out=enc)
    return F.log_softmax(logits[0, -1] / temperature, dim=-1)


def row(sample: dict, i: int) -> dict:
    src = sample["net_input"]["src_tokens"][i : i + 1]
    src = src[:, src[0].ne(PAD)]
    return {"net_input": {"src_tokens": src, "src_lengths": torch.tensor([src.size(1)])}}


def _reference_candidates(live, lprobs, hyps, penalty=lambda b, tok, rank: 0.0):
    """Every possible continuation of the hypotheses ``hyps``, best first; ``penalty`` lowers a token's score."""
    found = []
    for b in hyps:
        total, lp = sum(live[b][1]), lprobs[b]
        order = sorted((t for t in range(len(lp)) if lp[t] > -math.inf), key=lambda t: -float(lp[t]))
        for rank, tok in enumerate(order):
            own = float(lp[tok]) - penalty(b, tok, rank)
            found.append((total + own, b, tok, own))
    return sorted(found, key=lambda c: -c[0])


def reference_beam_search(
    model,
    sample_row,
    beam,
    max_len,
    min_len=1,
    lenpen=1.0,
    unkpen=0.0,
    ngram=0,
    groups=0,
    strength=0.5,
    rate=-1.0,
    lm=None,
    lm_weight=0.0,
):
    """Beam search with Python lists and full forward passes, by the same rules as fairseq's.

    ``groups`` makes it diverse beam search, ``rate`` (0 or more) diverse siblings search;
    ``lm`` is fused with ``lm_weight``.
    Candidates are ``(score, hypothesis, token, token score)``; ``None`` holds the place of an
    impossible one, which still counts for its position.
    """
    live = [([], [])]  # (tokens, per-token scores)
    finished = []
    for step in range(max_len + 1):
        lprobs = []
        for toks, _ in live if step else live[:1]:
            lp = full_lprobs(model, sample_row, toks).clone()
            if lm is not None:
                lp += lm_weight * full_lprobs(lm, sample_row, toks)
            lp[PAD] = -math.inf
            lp[UNK] -= unkpen
            model_lp = lp.clone()
            if step < min_len:
                lp[EOS] = -math.inf
            if ngram and len(toks) >= ngram:
                for k in range(len(toks) - ngram + 1):
                    if toks[k : k + ngram - 1] == toks[len(toks) - ngram + 1 :]:
                        lp[toks[k + ngram - 1]] = -math.inf
            if step >= max_len:
                lp = torch.full_like(lp, -math.inf)
                lp[EOS] = model_lp[EOS]
            lprobs.append(lp)

        if groups > 1:
            size, chosen, per_group = beam // groups, {}, []
            for g in range(groups):
                members = [0] if step == 0 else range(g, min(beam, len(live)), groups)
                penalty = lambda b, tok, rank, counts=dict(chosen): strength * counts.get(tok, 0)  # noqa: E731
                found = _reference_candidates(live, lprobs, members, penalty)[: 2 * size]
                for c in found:
                    chosen[c[2]] = chosen.get(c[2], 0) + 1
                per_group.append(found + [None] * (2 * size - len(found)))
            cands = [per_group[g][i] for i in range(2 * size) for g in range(groups)]
        elif rate >= 0 and step > 0:
            cands = _reference_candidates(
                live,
                lprobs,
                range(len(live)),
                lambda b, tok, rank: rate * (rank + 1) if rank < 2 * beam else math.inf,
            )
            cands = cands[: 2 * beam]
        else:
            cands = _reference_candidates(live, lprobs, range(len(live)) if step else [0])[: 2 * beam]
        new_live = []
        for rank, cand in enumerate(cands):
            if cand is None:
                continue
            score, b, tok, lp = cand
            toks, lps = live[b]
            if tok == EOS:
                if rank < beam and len(finished) < beam:
                    n = len(toks) + 1
                    finished.append((toks + [EOS], score / n**lenpen, lps + [lp]))
            elif len(new_live) < beam:
                new_live.append((toks + [tok], lps + [lp]))
        if len(finished) >= beam or not new_live or step >= max_len:
            break
        live = new_live
    return sorted(finished, key=lambda f: -f[1])


@pytest.fixture(scope="module")
def d() -> Dictionary:
    return make_dictionary(12)


@pytest.fixture(scope="module")
def model(d) -> ToySeq2Seq:
    return ToySeq2Seq.build(d, seed=0)


def generate(models, d, sample, **options):
    options = {"max_len_b": 10, **options}
    return SequenceGenerator(
        models if isinstance(models, list) else [models], d, GenerationConfig(**options)
    )(sample)


def test_beam_one_equals_greedy_decoding(model, d):
    sample = batch(SENTENCES)
    hypos = generate(model, d, sample, beam=1, max_len_b=12)
    for i in range(len(SENTENCES)):
        tokens, lps = [], []
        while len(tokens) < 12:
            lp = full_lprobs(model, row(sample, i), tokens)
            lp[PAD] = -math.inf
            if not tokens:
                lp[EOS] = -math.inf  # --min-len 1
            best = int(lp.argmax())
            tokens.append(best)
            lps.append(float(lp[best]))
            if best == EOS:
                break
        else:
            lp = full_lprobs(model, row(sample, i), tokens)
            tokens.append(EOS)
            lps.append(float(lp[EOS]))
        (hypo,) = hypos[i]
        assert hypo["tokens"].tolist() == tokens
        assert hypo["positional_scores"].tolist() == pytest.approx(lps, abs=1e-5)
        assert hypo["score"] == pytest.approx(sum(lps) / len(lps), abs=1e-5)


@pytest.mark.parametrize(
    "options",
    [
        {"beam": 3},
        {"beam": 4, "lenpen": 0.5, "min_len": 3},
        {"beam": 3, "lenpen": 2.0, "unkpen": 5.0},
        {"beam": 5, "no_repeat_ngram_size": 2, "max_len_b": 6},
    ],
)
def test_beam_search_matches_a_plain_reference(model, d, options):
    sample = batch(SENTENCES)
    options = {"max_len_b": 10, **options}
    hypos = generate(model, d, sample, nbest=options["beam"], **options)
    for i in range(len(SENTENCES)):
        expected = reference_beam_search(
            model,
            row(sample, i),
            options["beam"],
            options["max_len_b"],
            min_len=options.get("min_len", 1),
            lenpen=options.get("lenpen", 1.0),
            unkpen=options.get("unkpen", 0.0),
            ngram=options.get("no_repeat_ngram_size", 0),
        )
        got = [(h["tokens"].tolist(), h["score"], h["positional_scores"].tolist()) for h in hypos[i]]
        assert [g[0] for g in got] == [e[0] for e in expected]
        for (_, score, pos), (_, want, want_pos) in zip(got, expected):
            assert score == pytest.approx(want, abs=1e-4)
            assert pos == pytest.approx(want_pos, abs=1e-4)


@pytest.mark.parametrize(
    "options",
    [
        {"beam": 4, "diverse_beam_groups": 2},
        {"beam": 4, "diverse_beam_groups": 4, "diverse_beam_strength": 2.0},
        {"beam": 6, "diverse_beam_groups": 3, "diverse_beam_strength": 0.3, "lenpen": 0.7, "min_len": 2},
        {"beam": 4, "diversity_rate": 0.5},
        {"beam": 3, "diversity_rate": 0.0},
    ],
    ids=["groups2", "groups4-strong", "groups3-rules", "siblings", "siblings0"],
)
def test_diverse_searches_match_a_plain_reference(model, d, options):
    sample = batch(SENTENCES)
    hypos = generate(model, d, sample, nbest=options["beam"], max_len_b=8, **options)
    for i in range(len(SENTENCES)):
        expected = reference_beam_search(
            model,
            row(sample, i),
            options["beam"],
            8,
            min_len=options.get("min_len", 1),
            lenpen=options.get("lenpen", 1.0),
            groups=options.get("diverse_beam_groups", 0),
            strength=options.get("diverse_beam_strength", 0.5),
            rate=options.get("diversity_rate", -1.0),
        )
        got = [(h["tokens"].tolist(), h["score"], h["positional_scores"].tolist()) for h in hypos[i]]
        assert [g[0] for g in got] == [e[0] for e in expected]
        for (_, score, pos), (_, want, want_pos) in zip(got, expected):
            assert score == pytest.approx(want, abs=1e-4)
            assert pos == pytest.approx(want_pos, abs=1e-4)


@pytest.mark.parametrize("lm_weight", [0.5, -0.3])
def test_a_fused_language_model_adds_its_weighted_log_probabilities(model, d, lm_weight):
    sample, lm = batch(SENTENCES), ToyLM.build(d, seed=3)
    generator = SequenceGenerator(
        [model], d, GenerationConfig(beam=3, nbest=3, max_len_b=8), lm_model=lm, lm_weight=lm_weight
    )
    hypos = generator(sample)
    plain = generate(model, d, sample, beam=3, nbest=3, max_len_b=8)
    assert [[h["tokens"].tolist() for h in s] for s in hypos] != [
        [h["tokens"].tolist() for h in s] for s in plain
    ]
    for i in range(len(SENTENCES)):
        expected = reference_beam_search(model, row(sample, i), 3, 8, lm=lm, lm_weight=lm_weight)
        got = [(h["tokens"].tolist(), h["score"], h["positional_scores"].tolist()) for h in hypos[i]]
        assert [g[0] for g in got] == [e[0] for e in expected]
        for (_, score, pos), (_, want, want_pos) in zip(got, expected):
            assert score == pytest.approx(want, abs=1e-4)
            assert pos == pytest.approx(want_pos, abs=1e-4)


CONSTRAINTS = [[[7, 8]], [[5], [9, 10]], [], [[11, 4, 6]], [[6], [6]]]


def _contains(tokens: list[int], phrase: list[int]) -> list[int]:
    """Where ``phrase`` starts in ``tokens``."""
    return [i for i in range(len(tokens) - len(phrase) + 1) if tokens[i : i + len(phrase)] == phrase]


@pytest.mark.parametrize("ordered", [False, True], ids=["unordered", "ordered"])
def test_every_constrained_hypothesis_contains_its_phrases(model, d, ordered):
    generator = SequenceGenerator([model], d, GenerationConfig(beam=4, nbest=4, max_len_b=10))
    sample = batch(SENTENCES)
    hypos = generator.generate([model], sample, constraints=CONSTRAINTS, ordered=ordered)
    plain = generator(sample)
    for phrases, hyps, free in zip(CONSTRAINTS, hypos, plain):
        assert hyps
        if not phrases:  # a sentence without constraints is searched as plain beam search searches it
            assert [h["tokens"].tolist() for h in hyps] == [h["tokens"].tolist() for h in free]
        for h in hyps:
            tokens = h["tokens"].tolist()
            starts = [_contains(tokens[:-1], p) for p in phrases]
            assert all(starts), (phrases, tokens)
            if ordered and len(phrases) == 2 and phrases[0] != phrases[1]:
                assert min(starts[0]) < max(starts[1])
    assert any(
        not all(_contains(h["tokens"].tolist(), p) for p in phrases)
        for phrases, hyps in zip(CONSTRAINTS, plain)
        for h in hyps
    )  # without them the model would not produce these phrases


def test_a_constraint_state_follows_tokens_and_starts_over_when_a_phrase_breaks():
    sent = SentenceConstraints([[5, 6, 7], [9]], ordered=False)
    state = ConstraintState()
    assert sent.next_tokens(state) == [5, 9]
    for token in (5, 6):
        state = sent.advance(state, token)
    assert (state.current, state.matched, sent.bank(state), sent.next_tokens(state)) == (0, 2, 2, [7])
    state = sent.advance(state, 5)  # breaks the phrase; 5 starts it again
    assert (state.current, state.matched, sent.bank(state)) == (0, 1, 1)
    repeated, after = SentenceConstraints([[4, 4, 5]], ordered=False), ConstraintState()
    for token in (4, 4, 4):  # the third 4 breaks "4 4 5" but the output still ends with "4 4"
        after = repeated.advance(after, token)
    assert after.matched == 2 and repeated.finished(repeated.advance(after, 5))
    for token in (6, 7, 9):
        state = sent.advance(state, token)
    assert sent.finished(state) and sent.bank(state) == 4
    ordered = SentenceConstraints([[5, 6, 7], [9]], ordered=True)
    assert ordered.next_tokens(ConstraintState()) == [5]  # the second phrase waits for the first
    assert ordered.advance(ConstraintState(), 9) == ConstraintState()


def test_phrases_that_start_alike_are_followed_together():
    sent = SentenceConstraints([[5, 6], [5, 7, 8], [9]], ordered=False)
    state = sent.advance(ConstraintState(), 5)
    assert sent.next_tokens(state) == [6, 7]  # either phrase may go on after 5
    state = sent.advance(state, 7)  # the second phrase, not a broken first one
    assert (state.current, state.matched, sent.bank(state)) == (1, 2, 2)
    state = sent.advance(state, 8)
    assert state.met == {1} and sent.next_tokens(state) == [5, 9]
    broken = sent.advance(sent.advance(sent.advance(state, 5), 9), 5)  # 5 9: "5 6" broken, 9 met
    assert broken.met == {1, 2} and (broken.current, broken.matched) == (0, 1)
    assert sent.finished(sent.advance(broken, 6))
    # a break falls back to any open phrase the output ends with, not only the one in progress
    shifted = SentenceConstraints([[4, 5, 6], [5, 7]], ordered=False)
    after = ConstraintState()
    for token in (4, 5):
        after = shifted.advance(after, token)
    after = shifted.advance(after, 7)  # "4 5" breaks, but "5 7" was produced
    assert after.met == {1}


def test_constraints_need_plain_beam_search(model, d):
    generator = SequenceGenerator([model], d, GenerationConfig(beam=2, sampling=True))
    with pytest.raises(ConfigError, match="lexical constraints need plain beam search"):
        generator.generate([model], batch(SENTENCES[:1]), constraints=[[[5]]])


def test_diverse_beam_groups_start_with_different_tokens(model, d):
    sample = batch(SENTENCES)
    plain = generate(model, d, sample, beam=4, nbest=4)
    diverse = generate(model, d, sample, beam=4, nbest=4, diverse_beam_groups=4, diverse_beam_strength=100.0)
    # a strong penalty makes each group start with a token no earlier group chose at step 0
    firsts = [len({h["tokens"][0].item() for h in hyps}) for hyps in diverse]
    plain_firsts = [len({h["tokens"][0].item() for h in hyps}) for hyps in plain]
    assert sum(firsts) > sum(plain_firsts)


def test_each_sentence_alone_equals_its_place_in_a_mixed_length_batch(model, d):
    options = {"beam": 4, "nbest": 4, "max_len_a": 1.5, "max_len_b": 2}
    together = generate(model, d, batch(SENTENCES), **options)
    for i, sentence in enumerate(SENTENCES):
        (alone,) = generate(model, d, batch([sentence]), **options)
        assert [h["tokens"].tolist() for h in alone] == [h["tokens"].tolist() for h in together[i]]
        assert [h["score"] for h in alone] == pytest.approx([h["score"] for h in together[i]], abs=1e-5)
        longest = int(1.5 * (len(sentence) + 1) + 2) + 1
        assert all(len(h["tokens"]) <= longest for h in alone)


def test_finished_sentences_leave_the_batch(model, d):
    model.decoder.steps_seen.clear()
    generate(model, d, batch(SENTENCES), beam=2, max_len_a=1.0, max_len_b=0)
    rows = model.decoder.steps_seen
    assert rows[0] == 2 * len(SENTENCES)
    assert rows == sorted(rows, reverse=True) and rows[-1] < rows[0]
    # the longest source's sentence is decoded longest; the one-word source's leaves first
    assert len(rows) <= len(SENTENCES[-1]) + 2


def test_ensemble_of_a_model_with_itself_equals_the_model(model, d):
    sample = batch(SENTENCES)
    alone = generate(model, d, sample, beam=3, nbest=3)
    twice = generate([model, model], d, sample, beam=3, nbest=3)
    for a, b in zip(alone, twice):
        assert [h["tokens"].tolist() for h in a] == [h["tokens"].tolist() for h in b]
        assert [h["score"] for h in a] == pytest.approx([h["score"] for h in b], abs=1e-6)


def test_ensemble_averages_the_probabilities_of_its_models(d):
    a, b = ToySeq2Seq.build(d, seed=1), ToySeq2Seq.build(d, seed=2)
    sample = batch(SENTENCES[:2])
    ensemble = EnsembleModel([a, b])
    ensemble.reset()
    enc = ensemble.forward_encoder(sample["net_input"])
    tokens = torch.full((2, 1), EOS)
    got = ensemble.forward_decoder(tokens, enc)
    expected = []
    for i in range(2):
        pa = full_lprobs(a, row(sample, i), []).exp()
        pb = full_lprobs(b, row(sample, i), []).exp()
        expected.append(((pa + pb) / 2).log())
    assert torch.allclose(got, torch.stack(expected), atol=1e-5)


def test_temperature_scales_the_logits(model, d):
    sample = batch(SENTENCES[:1])
    (hypo,) = generate(model, d, sample, beam=1, temperature=0.5)[0]
    tokens = hypo["tokens"].tolist()
    for t, tok in enumerate(tokens):
        lp = full_lprobs(model, row(sample, 0), tokens[:t], temperature=0.5)
        assert hypo["positional_scores"][t] == pytest.approx(float(lp[tok]), abs=1e-5)


def test_sampling_from_the_top_token_only_is_greedy(model, d):
    sample = batch(SENTENCES)
    greedy = generate(model, d, sample, beam=1)
    for options in ({"sampling_topk": 1}, {"sampling_topp": 1e-6}):
        sampled = generate(model, d, sample, beam=1, sampling=True, **options)
        assert [h[0]["tokens"].tolist() for h in sampled] == [h[0]["tokens"].tolist() for h in greedy]


def test_sampling_draws_k_hypotheses_within_the_top_k_reproducibly(model, d):
    sample = batch(SENTENCES[:2])
    torch.manual_seed(3)
    first = generate(model, d, sample, beam=4, nbest=4, sampling=True, sampling_topk=3, max_len_b=6)
    torch.manual_seed(3)
    again = generate(model, d, sample, beam=4, nbest=4, sampling=True, sampling_topk=3, max_len_b=6)
    assert [[h["tokens"].tolist() for h in s] for s in first] == [
        [h["tokens"].tolist() for h in s] for s in again
    ]
    for i, hypos in enumerate(first):
        assert len(hypos) == 4
        for hypo in hypos:
            tokens = hypo["tokens"].tolist()
            for t, tok in enumerate(tokens):
                lp = full_lprobs(model, row(sample, i), tokens[:t])
                lp[PAD] = -math.inf
                if t == 0:
                    lp[EOS] = -math.inf
                forced_end = tok == EOS and t == 6  # --max-len-b 6 forces </s>
                assert tok in lp.topk(3).indices.tolist() or forced_end
                model_lp = full_lprobs(model, row(sample, i), tokens[:t])
                assert hypo["positional_scores"][t] == pytest.approx(float(model_lp[tok]), abs=1e-5)


def test_top_p_keeps_the_smallest_set_reaching_p():
    lprobs = torch.tensor([[[0.5, 0.3, 0.15, 0.05]]]).log()
    seen = set()
    torch.manual_seed(0)
    for _ in range(200):
        _, tokens, _ = sample_candidates(1, lprobs, torch.zeros(1, 1), topp=0.7)
        seen.add(int(tokens))
    assert seen == {0, 1}  # 0.5 < 0.7, 0.5 + 0.3 reaches it


def test_language_model_prefixes_are_forced_per_sentence(d):
    lm = ToyLM.build(d, seed=4)
    prompts = [[4, 5, 6], [7], [8, 9, 10, 11]]
    width = max(len(p) for p in prompts)
    prefix = torch.full((3, width), PAD, dtype=torch.long)
    for i, p in enumerate(prompts):
        prefix[i, : len(p)] = torch.tensor(p)
    sample = {"net_input": {"src_tokens": prefix, "src_lengths": torch.tensor([3, 1, 4])}}
    options = {"beam": 3, "nbest": 3, "max_len_b": 9}
    hypos = SequenceGenerator([lm], d, GenerationConfig(**options)).generate(
        [lm], sample, prefix_tokens=prefix
    )
    for i, p in enumerate(prompts):
        for hypo in hypos[i]:
            tokens = hypo["tokens"].tolist()
            assert tokens[: len(p)] == p
            for t in range(len(p)):
                want = float(full_lprobs(lm, {}, tokens[:t])[tokens[t]])
                assert hypo["positional_scores"][t] == pytest.approx(want, abs=1e-5)
        one = {
            "net_input": {"src_tokens": prefix[i : i + 1, : len(p)], "src_lengths": torch.tensor([len(p)])}
        }
        (alone,) = SequenceGenerator([lm], d, GenerationConfig(**options)).generate(
            [lm], one, prefix_tokens=prefix[i : i + 1, : len(p)]
        )
        assert [h["tokens"].tolist() for h in alone] == [h["tokens"].tolist() for h in hypos[i]]


def test_min_and_max_length(model, d):
    hypos = generate(model, d, batch(SENTENCES), beam=3, nbest=3, min_len=4, max_len_b=5)
    lengths = {len(h["tokens"]) for s in hypos for h in s}
    assert min(lengths) >= 5 and max(lengths) <= 6  # tokens (4 to 5) and </s>


@pytest.mark.parametrize(
    "options", [{"beam": 3, "nbest": 3}, {"beam": 2, "nbest": 2, "sampling": True}], ids=["beam", "sampling"]
)
def test_match_source_len_makes_every_output_as_long_as_its_source(model, d, options):
    free = generate(model, d, batch(SENTENCES), **options)
    assert any(len(h["tokens"]) != len(s) + 1 for s, hyps in zip(SENTENCES, free) for h in hyps)
    torch.manual_seed(0)
    hypos = generate(model, d, batch(SENTENCES), match_source_len=True, **options)
    for sentence, hyps in zip(SENTENCES, hypos):
        assert len(hyps) == options["nbest"]
        for h in hyps:
            # the source's tokens without its </s>, then </s>, which comes nowhere before
            assert len(h["tokens"]) == len(sentence) + 1
            assert h["tokens"].tolist().index(EOS) == len(sentence)


def test_repeated_ngrams_are_banned():
    lprobs = torch.zeros(2, 6)
    generated = torch.tensor([[4, 5, 4, 5, 4], [4, 5, 3, 4, 2]])
    out = ban_repeated_ngrams(lprobs, generated, 2)
    assert torch.isinf(out[0]).nonzero().flatten().tolist() == [5]  # "4 5" seen: 5 may not follow 4
    assert torch.isinf(out[1]).nonzero().flatten().tolist() == []  # "2" never seen before
    out3 = ban_repeated_ngrams(lprobs, generated, 3)
    assert torch.isinf(out3[0]).nonzero().flatten().tolist() == [5]  # "5 4" was followed by 5


# -- the search over logits: the same hypotheses as over log-softmax, in fewer passes --
@pytest.mark.parametrize("width", [8000, 8000 + 37, 100])
def test_row_topk_equals_topk(width):
    gen = torch.Generator().manual_seed(width)
    x = torch.randn(50, width, generator=gen) * 3
    x[3] = float("-inf")  # a dead row
    x[4, :-5] = float("-inf")  # only the last (partial) chunk is alive
    values, index = row_topk(x, 10)
    want, _ = x.topk(10, dim=1)
    assert torch.equal(values, want)
    assert torch.equal(x.gather(1, index), values)


def test_row_topk_keeps_every_value_of_a_tie():
    x = torch.zeros(2, 4096)
    x[:, ::100] = 1.0  # 41 equal maxima spread over many chunks
    values, index = row_topk(x, 10)
    assert torch.equal(values, torch.ones(2, 10))
    assert all(int(i) % 100 == 0 for i in index.flatten())


def assert_same_hypotheses(got: list, want: list) -> None:
    """Same tokens in the same order for every sentence; scores equal up to float rounding."""
    for g_hypos, w_hypos in zip(got, want):
        assert [h["tokens"].tolist() for h in g_hypos] == [h["tokens"].tolist() for h in w_hypos]
        for g, w in zip(g_hypos, w_hypos):
            assert g["score"] == pytest.approx(w["score"], abs=1e-5)
            torch.testing.assert_close(g["positional_scores"], w["positional_scores"], atol=1e-5, rtol=0)


@pytest.mark.parametrize(
    "options", [{"beam": 5}, {"beam": 4, "min_len": 3, "unkpen": 2.0, "no_repeat_ngram_size": 2}]
)
def test_search_over_logits_equals_search_over_log_probabilities(monkeypatch, options):
    d = make_dictionary(3000)  # wide enough for row_topk's chunked path
    model = ToySeq2Seq.build(d, seed=3)
    cfg = {"max_len_b": 8, "nbest": options["beam"], **options}
    fast = SequenceGenerator([model], d, GenerationConfig(**cfg))
    assert fast.model.normalizes_by_log_softmax
    got = fast(batch(SENTENCES))
    monkeypatch.setattr(EnsembleModel, "normalizes_by_log_softmax", property(lambda self: False))
    want = SequenceGenerator([model], d, GenerationConfig(**cfg))(batch(SENTENCES))
    assert_same_hypotheses(got, want)


class Projected(ToyDecoder):
    """Logits are exactly ``features @ W.T``: generation may project into its own kept buffer."""

    def output_projection_weight(self):
        return self.out.weight


def projected_model(d: Dictionary) -> ToySeq2Seq:
    """The toy model with a bias-free output layer that it exposes as its projection."""
    model = ToySeq2Seq.build(d, seed=3)
    model.decoder.out.bias = None
    model.decoder.__class__ = Projected
    return model


@pytest.mark.parametrize("temperature", [1.0, 0.7])
def test_logits_projected_into_a_kept_buffer_search_as_the_plain_path(monkeypatch, temperature):
    d = make_dictionary(3000)
    model = projected_model(d)
    assert model.output_projection_weight() is model.decoder.out.weight
    # sources of different lengths end at different steps: the batch shrinks
    cfg = {"beam": 4, "max_len_a": 1.0, "max_len_b": 2, "nbest": 4, "temperature": temperature}
    fast = SequenceGenerator([model], d, GenerationConfig(**cfg))
    buffers = []
    projected = EnsembleModel._projected_logits

    def watched(self, *args):
        logits = projected(self, *args)
        buffers.append((self._logits_buffer.data_ptr(), logits.data_ptr(), logits.size(0)))
        return logits

    monkeypatch.setattr(EnsembleModel, "_projected_logits", watched)
    got = fast(batch(SENTENCES))
    monkeypatch.undo()
    # one buffer for the whole decode, while the batch shrinks step by step
    assert len({b for b, _, _ in buffers}) == 1 and {b for b, _, _ in buffers} == {p for _, p, _ in buffers}
    assert len({rows for _, _, rows in buffers}) > 2
    monkeypatch.setattr(EnsembleModel, "normalizes_by_log_softmax", property(lambda self: False))
    want = SequenceGenerator([model], d, GenerationConfig(**cfg))(batch(SENTENCES))
    assert_same_hypotheses(got, want)


def test_validation_bleu_keeps_no_logits_buffer_for_training_to_carry():
    d = make_dictionary(50)
    model = projected_model(d)
    sample = batch(SENTENCES)
    sample["target"] = torch.tensor([[*s[:2], EOS] if len(s) > 1 else [s[0], EOS, PAD] for s in SENTENCES])
    bleu = ValidationBleu(argparse.Namespace(eval_bleu_detok="space"), d, None)
    with torch.no_grad():
        counts = bleu.logging_output(model, sample)
    assert counts["_bleu_ref_len"] > 0
    assert bleu._generator is not None and bleu._generator.model._logits_buffer is None


def test_under_autocast_the_projection_keeps_the_models_own_path():
    d = make_dictionary(50)
    model = projected_model(d)
    ensemble = EnsembleModel([model])
    ensemble.reset()
    tokens = torch.full((len(SENTENCES), 1), EOS)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        encoder_outs = ensemble.forward_encoder(batch(SENTENCES)["net_input"])
        lprobs = ensemble.forward_decoder_log_softmax(tokens, encoder_outs)
    assert ensemble._logits_buffer is None and lprobs.dtype == torch.float32


class Broken(ToyDecoder):
    """Gives the first rows of every step NaN, infinite and all-``-inf`` logits."""

    def output_layer(self, features, **kwargs):
        logits = super().output_layer(features)
        logits[0, :, 3] = float("nan")
        logits[1, :, 4] = float("inf")
        logits[2] = float("-inf")
        return logits


@pytest.mark.parametrize("temperature", [1.0, 0.7], ids=["own-buffer", "in-place"])
def test_rows_without_probabilities_die_in_the_fused_log_softmax_as_in_the_plain_one(
    monkeypatch, temperature
):
    d = make_dictionary(3000)
    model = ToySeq2Seq.build(d, seed=3)
    model.decoder.__class__ = Broken
    cfg = {"beam": 3, "max_len_b": 6, "nbest": 3, "temperature": temperature}
    # the next-token log-probabilities themselves: the plain ones, NaN turned into -inf
    net_input = batch(SENTENCES)["net_input"]
    tokens = torch.full((len(SENTENCES), 1), EOS)
    with torch.no_grad():
        ensemble = EnsembleModel([model])
        fused = ensemble.forward_decoder_log_softmax(tokens, ensemble.forward_encoder(net_input), temperature)
        plain = ensemble.forward_decoder(tokens, ensemble.forward_encoder(net_input), temperature)
    assert torch.isnan(plain[:3]).all() and not torch.isnan(plain[3:]).any()
    torch.testing.assert_close(fused, plain.nan_to_num(nan=float("-inf"), posinf=float("inf")))
    fast = SequenceGenerator([model], d, GenerationConfig(**cfg))
    assert fast.model.normalizes_by_log_softmax
    got = fast(batch(SENTENCES))
    monkeypatch.setattr(EnsembleModel, "normalizes_by_log_softmax", property(lambda self: False))
    want = SequenceGenerator([model], d, GenerationConfig(**cfg))(batch(SENTENCES))
    assert [[h["tokens"].tolist() for h in hypos] for hypos in got] == [
        [h["tokens"].tolist() for h in hypos] for hypos in want
    ]
    for g_hypos, w_hypos in zip(got, want):
        for g, w in zip(g_hypos, w_hypos):
            assert g["score"] == pytest.approx(w["score"], abs=1e-5)


def test_a_model_with_its_own_normalisation_keeps_the_log_softmax_search():
    d = make_dictionary(20)
    model = ToySeq2Seq.build(d, seed=1)

    class Custom(type(model)):
        def get_normalized_probs(self, net_output, log_probs, sample=None):
            return torch.log_softmax(net_output[0].float() * 2, dim=-1)

    model.__class__ = Custom
    assert not EnsembleModel([model]).normalizes_by_log_softmax
