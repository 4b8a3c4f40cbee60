"""A WikiText-103-style language model (adaptive input, adaptive softmax, tied bands) end to end.

``seq-train --arch transformer_lm_wiki103 --criterion adaptive_loss`` at toy sizes on a corpus
with Zipf-like word counts, so that every band sees words; then ``seq-eval-lm`` scores the
validation set through the whole distribution (``get_normalized_probs``), which must give the
loss the criterion validated through the head and tails, and ``seq-interactive`` continues a
prompt with beam search.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import re
import subprocess
import sys

import pytest
import torch

from seqlab.cli.eval_lm import main as eval_lm
from seqlab.cli.interactive import main as interactive
from seqlab.cli.preprocess import main as preprocess
from seqlab.core.builders import build_model
from seqlab.core.checkpoint_io import load_checkpoint_file
from seqlab.core.registry import resolve_architecture
from seqlab.core.testing.batches import language_model_batch
from seqlab.core.testing.dummy_task import DummyTask
from seqlab.criterions.adaptive_loss import AdaptiveLoss
from seqlab.criterions.cross_entropy import CrossEntropyCriterion
from seqlab.criterions.label_smoothed_cross_entropy import LabelSmoothedCrossEntropyCriterion

WORDS = [f"w{i}" for i in range(40)]
MODEL = [
    *("--task", "language_modeling", "--arch", "transformer_lm_wiki103", "--decoder-layers", "1"),
    *("--decoder-embed-dim", "32", "--decoder-ffn-embed-dim", "64", "--decoder-attention-heads", "2"),
    *("--adaptive-input-cutoff", "12,24", "--adaptive-softmax-cutoff", "12,24"),
    *("--tokens-per-sample", "16", "--dropout", "0", "--adaptive-softmax-dropout", "0"),
    *("--attention-dropout", "0", "--activation-dropout", "0"),
]
TRAINING = [
    *("--optimizer", "adam", "--lr", "0.005", "--lr-scheduler", "inverse_sqrt", "--warmup-updates", "20"),
    *("--criterion", "adaptive_loss", "--max-tokens", "300", "--seed", "1", "--cpu"),
    *("--log-format", "simple", "--log-interval", "10", "--no-epoch-checkpoints", "--max-update", "60"),
]


def _sentences(rng: random.Random, n: int) -> list[str]:
    weights = [1.0 / (rank + 1) for rank in range(len(WORDS))]  # Zipf: every band gets words
    return [" ".join(rng.choices(WORDS, weights, k=rng.randint(3, 9))) for _ in range(n)]


@pytest.fixture(scope="module")
def wiki103_run(tmp_path_factory):
    """Data, the training log and the last checkpoint of a toy transformer_lm_wiki103."""
    root = tmp_path_factory.mktemp("adaptive")
    rng = random.Random(7)
    for split, n in (("train", 400), ("valid", 40)):
        (root / f"{split}.txt").write_text("\n".join(_sentences(rng, n)) + "\n", encoding="utf-8")
    data = root / "bin"
    argv = ["--only-source", "--trainpref", str(root / "train.txt"), "--validpref", str(root / "valid.txt")]
    assert preprocess([*argv, "--destdir", str(data)]) == 0
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "seqlab.cli.train",
            str(data),
            *MODEL,
            *TRAINING,
            "--save-dir",
            str(root / "ckpt"),
        ],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return data, proc.stdout + proc.stderr, root / "ckpt" / "checkpoint_last.pt"


def test_training_lowers_the_adaptive_loss_and_ties_the_bands(wiki103_run):
    _, log, checkpoint = wiki103_run
    losses = [float(v) for v in re.findall(r"\| epoch \d+ \| loss ([\d.]+)", log)]
    assert len(losses) >= 5 and losses[-1] < losses[0] - 0.5, log[-3000:]
    weights = load_checkpoint_file(str(checkpoint))["model"]
    # --tie-adaptive-weights and --tie-adaptive-proj (the preset's): the tails use the input bands
    for band in (1, 2):
        table = weights[f"decoder.embed_tokens.embeddings.{band}.0.weight"]
        assert torch.equal(weights[f"decoder.adaptive_softmax.tails.{band - 1}.output.weight"], table)
        projection = weights[f"decoder.embed_tokens.embeddings.{band}.1.weight"]
        assert torch.equal(
            weights[f"decoder.adaptive_softmax.tails.{band - 1}.projection.weight"], projection
        )
        assert table.size(1) == 32 // 4**band  # each band 4x narrower (--adaptive-input-factor)
    assert "decoder.output_projection.weight" not in weights


def test_eval_lm_scores_the_whole_distribution_as_the_criterion_validated(wiki103_run, capsys):
    data, log, checkpoint = wiki103_run
    validated = float(re.findall(r"\| valid \| loss ([\d.]+)", log)[-1])
    assert eval_lm([str(data), "--path", str(checkpoint), "--gen-subset", "valid", "--batch-size", "4"]) == 0
    loss = float(re.search(r"Loss \(base 2\): ([\d.]+)", capsys.readouterr().out).group(1))
    assert loss == pytest.approx(validated, abs=1e-3)


def test_interactive_continues_a_prompt_with_beam_search(wiki103_run, capsys, monkeypatch):
    _, _, checkpoint = wiki103_run
    monkeypatch.setattr("sys.stdin", io.StringIO("w0 w1\nw5\n"))
    argv = ["--path", str(checkpoint), "--beam", "3", "--nbest", "3", "--max-len-b", "6", "--cpu"]
    assert interactive(argv) == 0
    hypotheses = [line.split("\t") for line in capsys.readouterr().out.splitlines() if line.startswith("H-")]
    assert len(hypotheses) == 6
    for _, score, text in hypotheses:
        assert text.split()[0] in ("w0", "w5") and all(w in WORDS for w in text.split())
        assert float(score) < 0


def test_every_criterion_scores_an_adaptive_softmax_model_alike():
    task = DummyTask.for_language_model(size=30)
    args = argparse.Namespace(
        arch="transformer_lm",
        **dict(decoder_embed_dim=16, decoder_ffn_embed_dim=32, decoder_layers=1, decoder_attention_heads=2),
        **dict(adaptive_input=True, adaptive_input_cutoff="10,20", adaptive_softmax_cutoff="10,20"),
        tie_adaptive_weights=True,
    )
    resolve_architecture("transformer_lm")[0].obj(args)
    torch.manual_seed(0)
    model = build_model(args, task).eval()
    sample = language_model_batch(task.target_dictionary, lengths=(9, 5, 12, 7))
    assert bool(sample["target"].ge(20).any()), "the batch should reach the last band"
    adaptive = AdaptiveLoss(task)(model, sample)[0]
    plain = CrossEntropyCriterion(task)(model, sample)[0]
    smoothed = LabelSmoothedCrossEntropyCriterion(task, label_smoothing=0.0)(model, sample)[0]
    torch.testing.assert_close(plain, adaptive)
    torch.testing.assert_close(smoothed, adaptive)
    # with smoothing the loss also spreads over every word: through the whole distribution
    lprobs = model.get_normalized_probs(model(**sample["net_input"]), log_probs=True)
    real = sample["target"].ne(task.target_dictionary.pad())
    eps, vocab = 0.1, lprobs.size(-1)
    nll = -lprobs.gather(-1, sample["target"].unsqueeze(-1)).squeeze(-1)[real].sum()
    spread = -lprobs.sum(-1)[real].sum()
    expected = (1 - eps - eps / (vocab - 1)) * nll + eps / (vocab - 1) * spread
    torch.testing.assert_close(
        LabelSmoothedCrossEntropyCriterion(task, label_smoothing=eps)(model, sample)[0], expected
    )
