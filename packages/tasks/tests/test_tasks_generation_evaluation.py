"""Validation BLEU summed over batches, and language-model blocks scored with their context."""

from __future__ import annotations

import numpy as np
import pytest
import sacrebleu
import torch

from seqlab.core import ConfigError, metrics
from seqlab.tasks.data import MonolingualDataset, TokenBlockDataset
from seqlab.tasks.generation import GenerationConfig
from seqlab.tasks.generation.bleu import bleu_logging_output, corpus_bleu
from seqlab.tasks.generation.context_window import ContextWindowDataset
from seqlab.tasks.generation.eval_bleu import ValidationBleu

HYPS = ["the cat sat on the mat", "a dog", "it is raining today in paris", "hello world", "x y z"]
REFS = ["the cat sat on a mat", "a dog barks", "it rains today in paris", "hello there world", "x y z"]


def test_bleu_of_summed_batch_counts_is_the_corpus_bleu():
    batches = [(HYPS[:2], REFS[:2]), (HYPS[2:3], REFS[2:3]), (HYPS[3:], REFS[3:])]
    with metrics.aggregate(new_root=True) as agg:
        for hyps, refs in batches:
            # the outputs of one batch's two workers, as the trainer gathers them
            halves = [(hyps[:1], refs[:1]), (hyps[1:], refs[1:])] if len(hyps) > 1 else [(hyps, refs)]
            outputs = [bleu_logging_output(corpus_bleu(h, r)) for h, r in halves]
            ValidationBleu.reduce_metrics(outputs)
        values = agg.get_smoothed_values()
    expected = sacrebleu.corpus_bleu(HYPS, [REFS]).score
    assert values["bleu"] == pytest.approx(round(expected, 2))
    assert not any(k.startswith("_") for k in values)  # the counts are not reported


def test_no_bleu_is_logged_without_counts():
    with metrics.aggregate(new_root=True) as agg:
        ValidationBleu.reduce_metrics([{"loss": 1.0}])
        assert "bleu" not in agg.get_smoothed_values()


def test_eval_bleu_args_are_checked_when_the_task_is_built():
    assert GenerationConfig.from_json('{"beam": 4, "lenpen": 0.6}').beam == 4
    with pytest.raises(ConfigError, match="unknown generation option 'bem' \\(did you mean beam\\?\\)"):
        GenerationConfig.from_json('{"bem": 4}')
    with pytest.raises(ConfigError, match="'beam' must be a int"):
        GenerationConfig.from_json('{"beam": "4"}')
    with pytest.raises(ConfigError, match="not valid JSON"):
        GenerationConfig.from_json("{beam: 4}")
    with pytest.raises(ConfigError, match="--nbest 5 must be between 1 and --beam 2"):
        GenerationConfig.from_json('{"beam": 2, "nbest": 5}')


def _blocks(sentences: list[list[int]], tokens_per_sample: int, mode: str) -> MonolingualDataset:
    data = [torch.tensor(s, dtype=torch.long) for s in sentences]
    sizes = np.array([len(s) for s in sentences])
    blocks = TokenBlockDataset(data, sizes, tokens_per_sample, pad=1, eos=2, break_mode=mode)
    return MonolingualDataset(blocks, blocks.sizes, dictionary=None, shuffle=False)


@pytest.mark.parametrize("mode", ["none", "eos"])
def test_each_block_is_scored_once_after_the_tokens_before_it(mode):
    sentences = [[10, 11, 12, 2], [13, 14, 2], [15, 16, 17, 18, 19, 2], [20, 2]]
    stream = [t for s in sentences for t in s]
    cw = 5
    ds = ContextWindowDataset(_blocks(sentences, 4, mode), context_window=cw, pad=1)
    scored = []
    for i in range(len(ds)):
        item = ds[i]
        target = item["target"].tolist()
        n_ctx = len(target) - item["scored"]
        assert target[:n_ctx] == [1] * n_ctx
        block = target[n_ctx:]
        start = len(scored)
        assert block == stream[start : start + len(block)]
        # the model input predicts each target from the token before it, back to the start of the stream
        inputs = [2, *stream][max(0, start - n_ctx) : start + len(block)]
        assert item["source"].tolist() == inputs and n_ctx == min(cw, start)
        scored += block
    assert scored == stream
    sample = ds.collater([ds[i] for i in range(len(ds))])
    assert sample["ntokens"] == len(stream) == int(sample["target"].ne(1).sum())
    assert ds.sizes.tolist() == [len(ds[i]["source"]) for i in range(len(ds))]
