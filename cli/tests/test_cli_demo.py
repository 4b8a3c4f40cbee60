"""seq-demo's corpus and how it reads seq-generate's output (the whole flow runs in tests/test_e2e_demo.py)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from seqlab.cli.demo import build_parser, parse_generation, write_number_corpus
from seqlab.cli.number_words import in_words, sample_numbers, with_digit_groups
from seqlab.tasks.sentencepiece_model import SentencePieceModel


@pytest.mark.parametrize(
    ("n", "words"),
    [
        (0, "zero"),
        (13, "thirteen"),
        (40, "forty"),
        (105, "one hundred five"),
        (1000, "one thousand"),
        (4213, "four thousand two hundred thirteen"),
        (7_000_013, "seven million thirteen"),
        (999_999, "nine hundred ninety nine thousand nine hundred ninety nine"),
    ],
)
def test_numbers_in_words(n, words):
    assert in_words(n) == words


def test_samples_are_distinct_and_exclude_held_aside_numbers():
    train = sample_numbers(500, seed=1)
    test = sample_numbers(100, seed=2, exclude=set(train))
    assert len(set(train)) == 500 and not set(train) & set(test)
    assert with_digit_groups(1234567) == "1,234,567"
    assert max(len(str(n)) for n in train) == 6


def test_parse_generation_orders_by_id():
    out = "S-1\t2\nT-1\ttwo\nH-1\t-0.1\t▁two\nD-1\t-0.1\ttwo\nS-0\t1\nT-0\tone\nD-0\t-0.2\tone\nP-0\t-0.2\n"
    assert parse_generation(out) == (["1", "2"], ["one", "two"], ["one", "two"])


def test_default_vocabulary_keeps_every_number_word_whole(tmp_path):
    # with byte pieces taking 256 of a small vocabulary, words were spelled letter by letter
    # and the demo's model looped on letters; each word must be one piece of the default model
    defaults = build_parser().parse_args([])
    prefixes = write_number_corpus(str(tmp_path), defaults.train_size, "num", "en")
    lines = [
        line
        for lang in ("num", "en")
        for line in Path(f"{prefixes['train']}.{lang}").read_text().splitlines()
    ]
    spm = SentencePieceModel.train(lines, vocab_size=defaults.spm_vocab_size, num_threads=1)
    targets = Path(f"{prefixes['train']}.en").read_text().split()
    # "zero" is in one sentence of 20,000: its spelling cannot matter
    words = [word for word, count in Counter(targets).items() if count >= 10]
    assert len(words) >= 29
    spelled = {word: pieces for word in words if len(pieces := spm.encode(word)) > 1}
    assert not spelled, f"number words split into several pieces: {spelled}"
