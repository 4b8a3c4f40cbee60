"""--scoring bleu: fairseq's BLEU over tokens as printed."""

from __future__ import annotations

import math
import random

import pytest
import sacrebleu

from seqlab.tasks.generation.token_bleu import TokenBleu


def test_equals_unsmoothed_sacrebleu_without_tokenization():
    rng = random.Random(0)
    words = "a b c d e f".split()
    refs = [" ".join(rng.choices(words, k=rng.randint(4, 12))) for _ in range(50)]
    hyps = [
        " ".join(w if rng.random() < 0.8 else rng.choice(words) for w in r.split()[: -1 or None])
        for r in refs
    ]
    scorer = TokenBleu()
    for ref, hyp in zip(refs, hyps):
        scorer.add(ref.split(), hyp.split())
    expected = sacrebleu.corpus_bleu(hyps, [refs], tokenize="none", smooth_method="none", force=True)
    assert scorer.score() == pytest.approx(expected.score, abs=1e-9)
    assert [100 * p for p in scorer.precisions()] == pytest.approx(expected.precisions, abs=1e-9)
    assert (scorer.syslen, scorer.reflen) == (expected.sys_len, expected.ref_len)
    assert expected.bp < 1  # the hypotheses are shorter: the brevity penalty is exercised


def test_result_string_is_fairseqs():
    scorer = TokenBleu()
    scorer.add("the cat sat on the mat".split(), "the cat sat on a mat".split())
    # 5/6 unigrams, 3/5 bigrams, 2/4 trigrams, 1/3 four-grams; (5/6 * 3/5 * 2/4 * 1/3) ** (1/4) = 0.5373
    assert scorer.result_string() == (
        "BLEU4 = 53.73, 83.3/60.0/50.0/33.3 (BP=1.000, ratio=1.000, syslen=6, reflen=6)"
    )
    scorer.add(["x"], ["y", "y"])  # unmatched tokens count in the totals only
    assert scorer.precisions()[:2] == [pytest.approx(5 / 8), pytest.approx(3 / 6)]
    scorer.add("a b c d e f".split(), "a b c d".split())  # now shorter than the references
    assert scorer.brevity() == pytest.approx(math.exp(1 - 13 / 12))


def test_clipping_counts_a_repeated_token_as_often_as_the_reference_has_it():
    scorer = TokenBleu(order=1)
    scorer.add(["the", "cat"], ["the", "the", "the"])
    assert scorer.precisions() == [pytest.approx(1 / 3)]
