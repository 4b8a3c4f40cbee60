"""``seq-import-fairseq``: a fairseq model computes the same under seqlab.

The fixtures were written by fairseq 0.12 itself (tests/fixtures/fairseq/make_fairseq_fixtures.py):
tiny models with random weights and the logits fairseq computed for a batch, and a real
``fairseq-train`` checkpoint with what ``fairseq-generate`` printed for its test sentences.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from seqlab.cli.fairseq_checkpoint import FairseqCheckpoint
from seqlab.cli.import_fairseq import convert_weights, seqlab_config
from seqlab.core.registry import get_plugin

FIXTURES = Path(__file__).parent / "fixtures" / "fairseq"
CHECKPOINT = FIXTURES / "checkpoint"
LM_CHECKPOINT = FIXTURES / "lm_checkpoint"
MODELS = sorted(p.stem for p in FIXTURES.glob("*.pt"))
# the fixture checkpoint's model, as seq-train flags (for fine-tuning it)
TINY = [
    *("--arch", "transformer", "--encoder-layers", "2", "--decoder-layers", "2"),
    *("--encoder-embed-dim", "32", "--decoder-embed-dim", "32", "--encoder-ffn-embed-dim", "24"),
    *("--decoder-ffn-embed-dim", "24", "--encoder-attention-heads", "2", "--decoder-attention-heads", "2"),
    *("--dropout", "0"),
]


def _tool(module: str, *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", f"seqlab.cli.{module}", *argv], capture_output=True, text=True, timeout=300
    )


def _dictionary_file(path: Path, symbols: list[str]) -> None:
    # fairseq's dict.txt: every symbol after the four special ones, with a count
    path.write_text("".join(f"{s} 1\n" for s in symbols[4:]), encoding="utf-8")


def test_there_are_model_fixtures():
    assert {"transformer_post_norm", "transformer_lm", "transformer_lm_adaptive_tied"} <= set(MODELS)


@pytest.mark.parametrize("name", MODELS)
def test_imported_weights_give_fairseqs_logits(name, tmp_path):
    record = torch.load(FIXTURES / f"{name}.pt", weights_only=True)
    options = dict(record["fairseq_args"])
    if record["task"] == "translation":
        _dictionary_file(tmp_path / "dict.src.txt", record["source_symbols"])
        _dictionary_file(tmp_path / "dict.tgt.txt", record["target_symbols"])
        options.update(source_lang="src", target_lang="tgt")
    else:
        _dictionary_file(tmp_path / "dict.txt", record["target_symbols"])
    arch = options.get("arch") or options["_name"]
    fs = FairseqCheckpoint(name, options, record["task"], arch, None, record["state_dict"], None, 0, 1)
    config = seqlab_config(fs, str(tmp_path))
    task = get_plugin("task", config.args.task).obj.setup_task(config.args)
    model = task.build_model(config.args)
    convert_weights(model, record["state_dict"], config.args, name)
    model.eval()
    with torch.no_grad():
        if record["task"] == "translation":
            inputs = record["prev_output_tokens"]
            out = model(record["src_tokens"], record["src_lengths"], inputs)
        else:
            inputs = record["src_tokens"]
            out = model(inputs)
        lprobs = model.get_normalized_probs(out, log_probs=True)
    real = inputs.ne(task.target_dictionary.pad())  # fairseq's outputs at padding are not compared
    # the decoder's output (logits, or the features an adaptive softmax takes) and the log-probabilities
    for mine, theirs in ((out[0], record["logits"]), (lprobs, record["lprobs"])):
        assert mine.shape == theirs.shape
        torch.testing.assert_close(mine[real], theirs[real], atol=1e-5, rtol=1e-5)


def _as_older_fairseq(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A 0.12 state dict in the layout of fairseq before 0.7-0.10: fused in_proj, layer_norms.N, embed_out."""
    old = {}
    for key, value in state.items():
        for proj in ("q_proj", "k_proj", "v_proj"):
            shapes = (
                {state[key.replace(proj, p)].shape for p in ("q_proj", "k_proj", "v_proj")}
                if proj in key
                else ()
            )
            if f".{proj}." in key and len(shapes) == 1:  # fused only where q, k and v had one width
                fused = key.replace(f"{proj}.", "in_proj_")
                if proj == "q_proj":
                    parts = [state[key.replace("q_proj", p)] for p in ("q_proj", "k_proj", "v_proj")]
                    old[fused] = torch.cat(parts)
                break
        else:
            if key.startswith("encoder.layers."):
                key = key.replace("self_attn_layer_norm", "layer_norms.0").replace(
                    "final_layer_norm", "layer_norms.1"
                )
            if key == "decoder.output_projection.weight":
                key = "decoder.embed_out"
            old[key] = value
    return old


@pytest.mark.parametrize("name", ["transformer_post_norm", "transformer_widths"])
def test_older_fairseq_layouts_convert_to_the_same_weights(name):
    record = torch.load(FIXTURES / f"{name}.pt", weights_only=True)
    args = argparse.Namespace(**record["fairseq_args"])
    model = get_plugin("model", "transformer").obj
    new = model.from_fairseq_state_dict(dict(record["state_dict"]), args)
    old = model.from_fairseq_state_dict(_as_older_fairseq(record["state_dict"]), args)
    assert any(".layer_norms.0." in k for k in _as_older_fairseq(record["state_dict"]))
    assert sorted(old) == sorted(new)
    for key, value in new.items():
        torch.testing.assert_close(old[key], value, rtol=0, atol=0)


def _hypotheses(text: str) -> dict[int, tuple[float, str]]:
    found = {}
    for line in text.splitlines():
        if line.startswith("H-"):
            key, score, words = line.split("\t")
            found[int(key[2:])] = (float(score), words)
    return found


@pytest.fixture(scope="module")
def imported(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("imported") / "model.pt"
    proc = _tool(
        "import_fairseq", str(CHECKPOINT / "checkpoint_last.pt"), "--data", str(CHECKPOINT), "-o", str(out)
    )
    assert proc.returncode == 0, proc.stderr
    assert "wrote" in proc.stdout
    return out


def test_an_imported_checkpoint_translates_as_fairseq_generate_did(imported):
    proc = _tool(
        "interactive",
        "--path",
        str(imported),
        "--beam",
        "4",
        "--cpu",
        "--input",
        str(CHECKPOINT / "test.src"),
    )
    assert proc.returncode == 0, proc.stderr
    ours = _hypotheses(proc.stdout)
    theirs = _hypotheses((CHECKPOINT / "fairseq_generate.txt").read_text(encoding="utf-8"))
    assert sorted(ours) == sorted(theirs) and len(ours) == 12
    for i, (score, words) in theirs.items():
        assert ours[i][1] == words
        assert ours[i][0] == pytest.approx(score, abs=1e-4)


def test_seq_generate_reads_fairseqs_binarized_data(imported):
    proc = _tool(
        "generate", str(CHECKPOINT), "--path", str(imported), "--gen-subset", "test", "--beam", "4",
        "--batch-size", "16", "--required-batch-size-multiple", "1", "--cpu", "--scoring", "bleu",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    expected = (CHECKPOINT / "fairseq_generate.txt").read_text(encoding="utf-8").splitlines()
    for prefix in ("S-", "T-"):
        mine = sorted(x for x in proc.stdout.splitlines() if x.startswith(prefix))
        assert mine == sorted(x for x in expected if x.startswith(prefix)) and len(mine) == 12
    ours, theirs = _hypotheses(proc.stdout), _hypotheses("\n".join(expected))
    assert {i: w for i, (_, w) in ours.items()} == {i: w for i, (_, w) in theirs.items()}


def test_an_imported_language_model_scores_what_fairseq_eval_lm_scored(tmp_path):
    # trained with --add-bos-token, on fairseq's binarized data: the option comes with the checkpoint
    out = tmp_path / "lm.pt"
    proc = _tool(
        "import_fairseq",
        str(LM_CHECKPOINT / "checkpoint_last.pt"),
        "--data",
        str(LM_CHECKPOINT),
        "-o",
        str(out),
    )
    assert proc.returncode == 0, proc.stderr
    assert torch.load(out, weights_only=True)["config"]["add_bos_token"] is True
    proc = _tool(
        "eval_lm",
        str(LM_CHECKPOINT),
        "--path",
        str(out),
        "--gen-subset",
        "valid",
        "--tokens-per-sample",
        "32",
        "--cpu",
    )
    assert proc.returncode == 0, proc.stderr
    ours = [line for line in proc.stdout.splitlines() if line.startswith("Loss (base 2)")]
    assert ours == [(LM_CHECKPOINT / "fairseq_eval_lm.txt").read_text(encoding="utf-8").strip()]


def test_an_imported_checkpoint_is_plain_data_with_fairseqs_progress(imported):
    state = torch.load(imported, weights_only=True)
    assert state["trainer"]["num_updates"] == 200
    assert state["config"]["arch"] == "transformer" and state["config"]["encoder_embed_dim"] == 32
    assert state["config"]["criterion"] == "label_smoothed_cross_entropy"
    assert state["config"]["label_smoothing"] == 0.1
    assert state["task_state"]["source_lang"] == "src"
    assert "decoder.layers.0.self_attn.in_proj.weight" in state["model"]


def test_seq_train_fine_tunes_from_an_imported_checkpoint_on_fairseqs_data(imported, tmp_path):
    proc = _tool(
        "train", str(CHECKPOINT), *TINY, "--task", "translation", "--finetune-from-model", str(imported),
        "--train-subset", "test", "--valid-subset", "test", "--optimizer", "adam", "--lr", "1e-4",
        "--max-tokens", "200", "--max-update", "2", "--cpu", "--save-dir", str(tmp_path / "save"),
        "--no-epoch-checkpoints", "--log-format", "json",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "fine-tuning from the weights of" in proc.stdout
    # the fine-tuned model starts from fairseq's: its first loss is that of a trained model (not ~4)
    losses = [line for line in proc.stdout.splitlines() if '"loss"' in line]
    assert losses and float(losses[0].split('"loss": ')[1].split(",")[0].strip('"')) < 2.0


def _rewritten(tmp_path: Path, edit) -> Path:
    with torch.serialization.safe_globals([argparse.Namespace]):
        state = torch.load(CHECKPOINT / "checkpoint_last.pt", weights_only=True)
    edit(state)
    path = tmp_path / "edited.pt"
    torch.save(state, path)
    return path


def test_fairseqs_moving_average_becomes_the_checkpoints_ema(tmp_path):
    def add_ema(state):
        state["extra_state"]["ema"] = {k: v * 0.5 for k, v in state["model"].items()}

    out = tmp_path / "model.pt"
    proc = _tool(
        "import_fairseq", str(_rewritten(tmp_path, add_ema)), "--data", str(CHECKPOINT), "-o", str(out)
    )
    assert proc.returncode == 0, proc.stderr
    state = torch.load(out, weights_only=True)
    key = "decoder.layers.1.ffn.fc2.weight"
    torch.testing.assert_close(state["ema"][key], state["model"][key] * 0.5)


def _set_model_option(key, value):
    def edit(state):
        vars(state["cfg"]["model"])[key] = value

    return edit


@pytest.mark.parametrize(
    ("edit", "code", "message"),
    [
        (
            _set_model_option("cross_self_attention", True),
            1,
            "uses --cross-self-attention, which seqlab's models do not provide",
        ),
        (_set_model_option("arch", "bart_base"), 2, "unknown --arch 'bart_base'; choices: "),
    ],
    ids=["cross-self-attention", "unknown-arch"],
)
def test_a_model_seqlab_lacks_is_refused(tmp_path, edit, code, message):
    out = tmp_path / "model.pt"
    proc = _tool("import_fairseq", str(_rewritten(tmp_path, edit)), "--data", str(CHECKPOINT), "-o", str(out))
    assert proc.returncode == code
    assert message in proc.stderr
    assert not out.exists()
