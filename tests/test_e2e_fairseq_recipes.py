"""fairseq's published training commands run under seq-train as they are written.

The commands are those of fairseq's translation and language-model READMEs (IWSLT'14 de-en
with validation BLEU, WMT'14 en-de big, the WikiText-103 transformer LM and the adaptive-input
LM), on small generated data: only the data path is changed, and a few sizes are typed on top
where the data is too small for the preset (sizes, band cutoffs) or the test must stay short.
"""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys

import pytest

from seqlab.cli.preprocess import main as preprocess

IWSLT = [
    *("--arch", "transformer_iwslt_de_en", "--share-decoder-input-output-embed"),
    *("--optimizer", "adam", "--adam-betas", "(0.9, 0.98)", "--clip-norm", "0.0"),
    *("--lr", "5e-4", "--lr-scheduler", "inverse_sqrt", "--warmup-updates", "4000"),
    *("--dropout", "0.3", "--weight-decay", "0.0001"),
    *("--criterion", "label_smoothed_cross_entropy", "--label-smoothing", "0.1"),
    *("--max-tokens", "4096"),
    *("--eval-bleu", "--eval-bleu-args", '{"beam": 5, "max_len_a": 1.2, "max_len_b": 10}'),
    *("--eval-bleu-detok", "moses", "--eval-bleu-remove-bpe", "--eval-bleu-print-samples"),
    *("--best-checkpoint-metric", "bleu", "--maximize-best-checkpoint-metric"),
]
WMT_BIG = [
    *("--arch", "transformer_vaswani_wmt_en_de_big", "--share-all-embeddings"),
    *("--optimizer", "adam", "--adam-betas", "(0.9, 0.98)", "--clip-norm", "0.0"),
    *("--lr", "0.0005", "--lr-scheduler", "inverse_sqrt", "--warmup-updates", "4000"),
    *("--warmup-init-lr", "1e-07", "--dropout", "0.3", "--weight-decay", "0.0"),
    *("--criterion", "label_smoothed_cross_entropy", "--label-smoothing", "0.1"),
    *("--max-tokens", "3584", "--fp16"),
]
LM = [
    *("--task", "language_modeling", "--arch", "transformer_lm", "--share-decoder-input-output-embed"),
    *("--dropout", "0.1", "--optimizer", "adam", "--adam-betas", "(0.9, 0.98)", "--weight-decay", "0.01"),
    *("--clip-norm", "0.0", "--lr", "0.0005", "--lr-scheduler", "inverse_sqrt", "--warmup-updates", "4000"),
    *("--warmup-init-lr", "1e-07", "--tokens-per-sample", "512", "--sample-break-mode", "none"),
    *("--max-tokens", "2048", "--update-freq", "16", "--fp16", "--max-update", "50000"),
]
ADAPTIVE_LM = [
    *("--task", "language_modeling", "--arch", "transformer_lm_wiki103", "--max-update", "286000"),
    *("--lr", "1.0", "--t-mult", "2", "--lr-period-updates", "270000", "--lr-scheduler", "cosine"),
    *("--lr-shrink", "0.75", "--warmup-updates", "16000", "--warmup-init-lr", "1e-07"),
    *("--stop-min-lr", "1e-09", "--optimizer", "nag", "--min-lr", "0.0001", "--clip-norm", "0.1"),
    *("--criterion", "adaptive_loss", "--max-tokens", "3072", "--update-freq", "3"),
    *("--tokens-per-sample", "3072", "--seed", "1", "--sample-break-mode", "none"),
    *("--skip-invalid-size-inputs-valid-test", "--ddp-backend=legacy_ddp"),
]
WORDS = "apple bird cat dog egg fish goat hat ink jam kite lamp man nut owl pig".split()


def _seq_train(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "seqlab.cli.train", *argv],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """A binarized parallel corpus (joined dictionary) and a monolingual one."""
    root = tmp_path_factory.mktemp("recipes")
    rng = random.Random(3)
    lines = [" ".join(rng.choices(WORDS, k=rng.randint(3, 8))) for _ in range(120)]
    for split, part in (("train", lines[:100]), ("valid", lines[100:])):
        for lang in ("de", "en"):
            (root / f"{split}.{lang}").write_text("\n".join(part) + "\n", encoding="utf-8")
    argv = ["-s", "de", "-t", "en", "--joined-dictionary", "--trainpref", str(root / "train")]
    assert preprocess([*argv, "--validpref", str(root / "valid"), "--destdir", str(root / "mt")]) == 0
    argv = ["--only-source", "--trainpref", str(root / "train.en"), "--validpref", str(root / "valid.en")]
    assert preprocess([*argv, "--destdir", str(root / "lm")]) == 0
    return root


def test_the_iwslt_recipe_trains_and_scores_validation_bleu_with_moses_detokenization(data, tmp_path):
    pytest.importorskip("sacremoses", reason="--eval-bleu-detok moses needs seqlab-tasks[moses]")
    small = [*("--encoder-layers", "1", "--decoder-layers", "1", "--encoder-embed-dim", "32")]
    small += [
        *("--decoder-embed-dim", "32", "--encoder-ffn-embed-dim", "64", "--decoder-ffn-embed-dim", "64")
    ]
    run = ["--max-update", "3", "--cpu", "--log-format", "simple", "--save-dir", str(tmp_path)]
    proc = _seq_train(str(data / "mt"), *IWSLT, *small, *run)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    log = proc.stdout + proc.stderr
    assert re.search(r"\| valid \| .*\| bleu [\d.]+", log), log[-3000:]
    assert "example hypothesis:" in log  # --eval-bleu-print-samples


@pytest.mark.parametrize(
    "recipe, folder, extra",
    [
        (WMT_BIG, "mt", []),
        (LM, "lm", []),
        (ADAPTIVE_LM, "lm", ["--adaptive-input-cutoff", "8,12", "--adaptive-softmax-cutoff", "8,12"]),
    ],
    ids=["wmt14-en-de-big", "wikitext-103-transformer-lm", "wikitext-103-adaptive-input-lm"],
)
def test_the_published_recipe_builds_as_written(data, tmp_path, recipe, folder, extra):
    proc = _seq_train(str(data / folder), *recipe, *extra, "--cpu", "--dry-run", "--save-dir", str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "--dry-run: everything builds" in proc.stdout + proc.stderr
