"""seq-eval-lm: per-token loss and perplexity, equal to scoring every token by hand."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
import torch

import seqlab.tasks.language_modeling  # noqa: F401  (registered once, outside the tests' isolated registries)
import seqlab.tasks.translation  # noqa: F401
from seqlab.cli.eval_lm import main
from seqlab.core import import_user_dir
from seqlab.core.dictionary import Dictionary
from seqlab.core.testing import isolated_plugins
from seqlab.tasks.data import IndexedDataset

TOYS = str(Path(__file__).with_name("generation_toys"))
with isolated_plugins():  # the helpers only; each test imports the user dir as it needs
    toys = import_user_dir(TOYS)

TOKENS_PER_SAMPLE = 7


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return toys.lm_data(tmp_path_factory.mktemp("lm"))


@pytest.fixture()
def lm(data, tmp_path):
    path = tmp_path / "lm.pt"
    with isolated_plugins():
        model = import_user_dir(TOYS).write_checkpoint(
            path,
            data,
            task="language_modeling",
            arch="toy_lm",
            flags=["--tokens-per-sample", str(TOKENS_PER_SAMPLE)],
        )
    return str(path), model


def _stream(data: Path) -> list[int]:
    d = Dictionary.load(str(data / "dict.txt"))
    ds = IndexedDataset(str(data / "valid"), expected_vocab_size=len(d))
    return [t for i in range(len(ds)) for t in ds[i].tolist()]


@torch.no_grad()
def _by_hand(model, stream: list[int], block: int, context: int) -> float:
    """Mean natural-log probability: blocks of ``block`` tokens, each after ``context`` earlier ones."""
    inputs = [2, *stream]  # the token before each target; </s> before the first
    total = 0.0
    for start in range(0, len(stream), block):
        end = min(start + block, len(stream))
        first = max(0, start - context)
        x = torch.tensor([inputs[first:end]])
        lprobs = model.get_normalized_probs(model(x), log_probs=True)[0]
        for pos in range(start, end):
            total += float(lprobs[pos - first, stream[pos]])
    return total / len(stream)


def _printed(out: str) -> tuple[int, float, float]:
    count = int(re.search(r"Evaluated (\d+) tokens in [\d.]+s \([\d.]+ tokens/s\)", out).group(1))
    loss, ppl = re.search(r"Loss \(base 2\): ([\d.]+), Perplexity: ([\d.]+)", out).groups()
    return count, float(loss), float(ppl)


@pytest.mark.parametrize("context", [0, 4])
def test_loss_and_perplexity_equal_scoring_every_token_by_hand(data, lm, capsys, context):
    path, model = lm
    argv = [str(data), "--path", path, "--user-dir", TOYS, "--gen-subset", "valid", "--batch-size", "3"]
    assert main([*argv, "--context-window", str(context)]) == 0
    count, loss, ppl = _printed(capsys.readouterr().out)
    stream = _stream(data)
    expected = -_by_hand(model, stream, TOKENS_PER_SAMPLE, context) / math.log(2)
    assert count == len(stream)
    assert loss == pytest.approx(expected, abs=1e-4)
    assert ppl == pytest.approx(2**expected, abs=0.01)


def test_tokens_per_sample_can_be_overridden(data, lm, capsys):
    path, model = lm
    argv = [
        str(data),
        "--path",
        path,
        "--user-dir",
        TOYS,
        "--gen-subset",
        "valid",
        "--tokens-per-sample",
        "3",
    ]
    assert main(argv) == 0
    _, loss, _ = _printed(capsys.readouterr().out)
    assert loss == pytest.approx(-_by_hand(model, _stream(data), 3, 0) / math.log(2), abs=1e-4)


def test_a_context_longer_than_the_model_allows_is_refused(data, lm, capsys):
    path, _ = lm
    argv = [str(data), "--path", path, "--user-dir", TOYS, "--gen-subset", "valid", "--context-window", "60"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "--tokens-per-sample 7 + --context-window 60 = 67 exceeds the model's 64 positions" in err


def test_a_translation_model_is_refused(tmp_path, capsys):
    data = toys.translation_data(tmp_path / "tr")
    with isolated_plugins():
        import_user_dir(TOYS).write_checkpoint(tmp_path / "tr.pt", data)
    assert main([str(data), "--path", str(tmp_path / "tr.pt"), "--user-dir", TOYS]) == 1
    assert "seq-eval-lm scores language models" in capsys.readouterr().err
