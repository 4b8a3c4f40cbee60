"""Generation end to end: seq-preprocess, seq-train a small transformer to copy its input (choosing
the best checkpoint by validation BLEU), then seq-generate, seq-interactive and seq-eval-lm."""

from __future__ import annotations

import argparse
import io
import math
import os
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import sacrebleu
import torch
import torch.nn.functional as F

from seqlab.cli.eval_lm import main as eval_lm
from seqlab.cli.eval_lm import position_limit
from seqlab.cli.generate import main as generate
from seqlab.cli.interactive import main as interactive
from seqlab.cli.preprocess import main as preprocess
from seqlab.cli.validate import main as validate
from seqlab.core import get_plugin
from seqlab.core.checkpoint_io import atomic_save, load_checkpoint_file
from seqlab.models.modules.positional_embedding import build_positional_embedding
from seqlab.tasks.generation import GenerationConfig, SequenceGenerator
from seqlab.tasks.generation.alignment import add_alignments

WORDS = "apple bird cat dog egg fish goat hat ink jam kite lamp".split()
UPDATES = 1000
MODEL = [
    *("--arch", "transformer", "--encoder-layers", "2", "--decoder-layers", "2"),
    *("--encoder-embed-dim", "64", "--decoder-embed-dim", "64", "--encoder-ffn-embed-dim", "128"),
    *("--decoder-ffn-embed-dim", "128", "--encoder-attention-heads", "2", "--decoder-attention-heads", "2"),
    *("--share-all-embeddings", "--dropout", "0"),
]
TRAINING = [
    *("--optimizer", "adam", "--lr", "0.005", "--lr-scheduler", "inverse_sqrt", "--warmup-updates", "50"),
    *("--criterion", "cross_entropy", "--max-tokens", "300", "--seed", "1", "--cpu"),
    *("--log-format", "simple", "--no-epoch-checkpoints"),
]


# Models this small run fastest on one thread, and a busy machine's second core slows threads that wait
ONE_THREAD = {**os.environ, "OMP_NUM_THREADS": "1"}


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Generate on one thread in this process too (restored afterwards)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _train(*argv: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "seqlab.cli.train", *argv],
        capture_output=True,
        text=True,
        timeout=900,
        env=ONE_THREAD,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout + proc.stderr


def _write(path: Path, lines: list[str]) -> None:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


@pytest.fixture(scope="module")
def copy_run(tmp_path_factory) -> argparse.Namespace:
    """A transformer trained to copy sentences of 2 to 7 words; valid and test are held aside."""
    root = tmp_path_factory.mktemp("copy")
    rng = random.Random(0)
    train = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 7))) for _ in range(2000)]
    seen, held = set(train), []
    while len(held) < 80:
        sentence = " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 7)))
        if sentence not in seen:
            seen.add(sentence)
            held.append(sentence)
    for split, lines in (("train", train), ("valid", held[:40]), ("test", held[40:])):
        for lang in ("src", "tgt"):
            _write(root / f"{split}.{lang}", lines)
    data = root / "bin"
    argv = ["-s", "src", "-t", "tgt", "--trainpref", str(root / "train"), "--validpref", str(root / "valid")]
    argv += ["--testpref", str(root / "test"), "--destdir", str(data), "--joined-dictionary"]
    assert preprocess([*argv, "--bpe", "sentencepiece", "--spm-vocab-size", "300"]) == 0
    save = root / "checkpoints"
    log = _train(
        str(data),
        "--task",
        "translation",
        *MODEL,
        *TRAINING,
        *("--max-update", str(UPDATES), "--save-dir", str(save)),
        *("--eval-bleu", "--eval-bleu-args", '{"beam": 1, "max_len_a": 1.2, "max_len_b": 4}'),
        *("--best-checkpoint-metric", "bleu", "--maximize-best-checkpoint-metric"),
    )
    return argparse.Namespace(data=data, save=save, log=log, test=held[40:])


def _lines(text: str) -> tuple[dict[str, dict[int, list[str]]], list[str]]:
    found: dict[str, dict[int, list[str]]] = {}
    other = []
    for line in text.splitlines():
        head, _, rest = line.partition("\t")
        kind, _, sid = head.partition("-")
        if sid.isdigit():
            found.setdefault(kind, {}).setdefault(int(sid), []).append(rest)
        else:
            other.append(line)
    return found, other


def test_the_copy_model_reproduces_held_aside_inputs_and_reports_sacrebleus_bleu(copy_run, tmp_path, capsys):
    last = str(copy_run.save / "checkpoint_last.pt")
    argv = [
        str(copy_run.data),
        "--path",
        last,
        "--beam",
        "5",
        "--batch-size",
        "16",
        "--results-path",
        str(tmp_path),
    ]
    assert generate(argv) == 0
    assert "sentences/s" in capsys.readouterr().err
    found, other = _lines((tmp_path / "generate-test.txt").read_text(encoding="utf-8"))
    ids = range(len(copy_run.test))
    assert {i: found["S"][i][0] for i in ids} == dict(enumerate(copy_run.test))
    hyps = [found["D"][i][0].split("\t")[1] for i in ids]
    refs = [found["T"][i][0] for i in ids]
    assert hyps == copy_run.test == refs
    assert other == [f"Generate test with beam=5: {sacrebleu.corpus_bleu(hyps, [refs]).format()}"]
    assert "BLEU = 100.00" in other[0]
    assert generate([*argv[:-2], "--scoring", "bleu"]) == 0  # fairseq's BLEU over the pieces
    assert "Generate test with beam=5: BLEU4 = 100.00, 100.0/100.0/100.0/100.0" in capsys.readouterr().out


def test_model_overrides_rebuild_the_model_with_other_options(copy_run, capsys):
    last = str(copy_run.save / "checkpoint_last.pt")
    argv = [str(copy_run.data), "--path", last, "--batch-size", "16", "--skip-invalid-size-inputs-valid-test"]
    # fairseq users write Python dicts; JSON works too
    for overrides in ("{'max_source_positions': 5}", '{"max_source_positions": 5}'):
        assert generate([*argv, "--model-overrides", overrides]) == 0
        found, _ = _lines(capsys.readouterr().out)
        short = {i for i, s in enumerate(copy_run.test) if len(s.split()) + 1 <= 5}  # words are pieces here
        assert set(found["S"]) == short and 0 < len(short) < len(copy_run.test)
        assert all(found["D"][i][0].split("\t")[1] == copy_run.test[i] for i in short)

    # a shallower decoder from the same weights: the second of its two layers only
    plain = [str(copy_run.data), "--path", last, "--batch-size", "16"]
    assert generate([*plain, "--model-overrides", "{'decoder_layers_to_keep': '1'}"]) == 0
    shallow, _ = _lines(capsys.readouterr().out)
    assert len(shallow["H"]) == len(copy_run.test)
    assert any(shallow["D"][i][0].split("\t")[1] != copy_run.test[i] for i in shallow["D"])
    assert generate([*plain, "--model-overrides", "{'decoder_layers_to_keep': '0,1,2'}"]) == 2
    assert (
        "--decoder-layers-to-keep: the checkpoint has 2 layers, fewer than the 3 to keep"
        in capsys.readouterr().err
    )


def test_validate_reports_the_loss_and_bleu_that_training_validated(copy_run, capsys):
    last_validation = [line for line in copy_run.log.splitlines() if "valid on 'valid' epoch" in line][-1]
    logged = {k: float(v) for k, v in re.findall(r"\| (loss|bleu) ([\d.]+)", last_validation)}
    argv = [
        str(copy_run.data),
        "--path",
        str(copy_run.save / "checkpoint_last.pt"),
        "--valid-subset",
        "valid,test",
    ]
    assert validate(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(" |")[0] for line in lines] == ["valid on 'valid' subset", "valid on 'test' subset"]
    found = {k: float(v) for k, v in re.findall(r"\| (loss|bleu) ([\d.]+)", lines[0])}
    assert set(found) == {"loss", "bleu"} and found == pytest.approx(logged, abs=1e-3)


def test_eval_bleu_chooses_the_best_checkpoint(copy_run):
    validations = re.findall(
        r"\| valid \| .*?\| bleu ([\d.]+) \| num_updates (\d+) \| best_bleu ([\d.]+)", copy_run.log
    )
    assert len(validations) >= 10
    bleus = [float(b) for b, _, _ in validations]
    best_updates = int(validations[bleus.index(max(bleus))][1])  # the first validation reaching the maximum
    assert float(validations[-1][2]) == max(bleus)
    best = load_checkpoint_file(str(copy_run.save / "checkpoint_best.pt"))
    last = load_checkpoint_file(str(copy_run.save / "checkpoint_last.pt"))
    assert best["trainer"]["best"] == pytest.approx(max(bleus), abs=0.01)
    assert best["trainer"]["num_updates"] == best_updates
    assert last["trainer"]["num_updates"] == UPDATES
    assert bleus[0] < 50 < max(bleus)  # the metric followed training


def _load(path: Path):
    """The task and model of a checkpoint, rebuilt from the checkpoint alone."""
    checkpoint = load_checkpoint_file(str(path))
    args = argparse.Namespace(**checkpoint["config"])
    task = get_plugin("task", args.task).obj.setup_task_from_state(args, checkpoint["task_state"])
    model = task.build_model(args)
    model.load_state_dict(checkpoint["model"])
    return task, model.eval()


def _test_batches(task, data: Path):
    task.args.data = str(data)
    task.load_dataset("test")
    return list(task.get_batch_iterator(task.dataset("test"), max_sentences=16).next_epoch_itr(shuffle=False))


def test_beam_one_equals_greedy_decoding_of_the_transformer(copy_run):
    task, model = _load(copy_run.save / "checkpoint_best.pt")
    d = task.target_dictionary
    generator = SequenceGenerator([model], d, GenerationConfig(beam=1, max_len_b=12))
    for sample in _test_batches(task, copy_run.data):
        hypos = generator(sample)
        for i in range(len(hypos)):
            src = sample["net_input"]["src_tokens"][i : i + 1]
            src = src[:, src[0].ne(d.pad())]
            with torch.no_grad():
                encoder_out = model.encoder(src, src_lengths=torch.tensor([src.size(1)]))
                tokens, scores = [d.eos()], []
                while tokens[-1] != d.eos() or len(tokens) == 1:
                    logits, _ = model.decoder(torch.tensor([tokens]), encoder_out=encoder_out)
                    lprobs = F.log_softmax(logits[0, -1].float(), dim=-1)
                    lprobs[d.pad()] = -math.inf
                    if len(tokens) == 1:
                        lprobs[d.eos()] = -math.inf  # --min-len 1
                    best = int(lprobs.argmax()) if len(tokens) <= 12 else d.eos()  # --max-len-b 12
                    tokens.append(best)
                    scores.append(float(lprobs[best]))
            (hypo,) = hypos[i]
            assert hypo["tokens"].tolist() == tokens[1:]
            assert hypo["positional_scores"].tolist() == pytest.approx(scores, abs=1e-4)


def test_each_sentence_alone_gives_its_hypothesis_and_score_in_a_mixed_length_batch(copy_run):
    task, model = _load(copy_run.save / "checkpoint_last.pt")
    pad = task.target_dictionary.pad()
    generator = SequenceGenerator([model], task.target_dictionary, GenerationConfig(beam=5, nbest=5))
    batches = _test_batches(task, copy_run.data)
    assert any(b["net_input"]["src_tokens"].eq(pad).any() for b in batches)  # mixed lengths, padded
    for sample in batches:
        together = generator(sample)
        for i in range(len(together)):
            src = sample["net_input"]["src_tokens"][i : i + 1]
            src = src[:, src[0].ne(pad)]
            (alone,) = generator(
                {"net_input": {"src_tokens": src, "src_lengths": torch.tensor([src.size(1)])}}
            )
            assert [h["tokens"].tolist() for h in alone] == [h["tokens"].tolist() for h in together[i]]
            assert [h["score"] for h in alone] == pytest.approx([h["score"] for h in together[i]], abs=1e-4)


@pytest.mark.parametrize(
    "options, prefix",
    [
        ({"beam": 5, "nbest": 5}, 0),
        ({"beam": 4, "nbest": 2, "min_len": 3, "no_repeat_ngram_size": 2, "lenpen": 0.6}, 0),
        ({"beam": 3, "nbest": 3}, 2),
        ({"beam": 4, "nbest": 4, "diverse_beam_groups": 2, "diverse_beam_strength": 1.0}, 0),
    ],
    ids=["plain", "rules", "prefix", "diverse"],
)
def test_grouped_beam_search_equals_one_encoder_row_per_hypothesis(copy_run, monkeypatch, options, prefix):
    task, model = _load(copy_run.save / "checkpoint_last.pt")
    d = task.target_dictionary
    batches = _test_batches(task, copy_run.data)

    def run(generator):
        return [generator(b, prefix_tokens=b["target"][:, :prefix] if prefix else None) for b in batches]

    grouped = SequenceGenerator([model], d, GenerationConfig(**options))
    assert grouped.model.grouped_encoder_out  # the transformer shares one encoder row per sentence
    got = run(grouped)
    monkeypatch.setattr(type(model.decoder), "supports_grouped_encoder_out", False)
    plain = SequenceGenerator([model], d, GenerationConfig(**options))
    assert not plain.model.grouped_encoder_out
    for got_batch, want_batch in zip(got, run(plain)):
        for g_hypos, w_hypos in zip(got_batch, want_batch):
            assert [h["tokens"].tolist() for h in g_hypos] == [h["tokens"].tolist() for h in w_hypos]
            assert [h["score"] for h in g_hypos] == pytest.approx([h["score"] for h in w_hypos], abs=1e-4)


@pytest.mark.parametrize(
    "options",
    [
        {"beam": 5, "nbest": 5},
        {"beam": 1},
        {"beam": 4, "nbest": 2, "min_len": 3, "no_repeat_ngram_size": 2, "lenpen": 0.6, "max_len_a": 1.0},
    ],
    ids=["beam5", "greedy", "rules"],
)
def test_tails_decoded_with_the_next_batch_give_each_batch_its_own_hypotheses(copy_run, options):
    task, model = _load(copy_run.save / "checkpoint_last.pt")
    _test_batches(task, copy_run.data)
    dataset = task.dataset("test")
    # batches of sentences of mixed lengths, whose last few sentences decode alone for several steps
    order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(0)).tolist()
    batches = [dataset.collater([dataset[i] for i in order[k : k + 8]]) for k in range(0, len(order), 8)]
    generator = SequenceGenerator([model], task.target_dictionary, GenerationConfig(**options))
    assert generator.model.can_merge
    steps = []
    hook = model.decoder.register_forward_hook(lambda module, args, out: steps.append(args[0].size(0)))
    try:
        alone = [generator(b) for b in batches]
        alone_steps = len(steps)
        steps.clear()
        merged = list(generator.generate_batches(iter(batches)))
    finally:
        hook.remove()
    # every batch comes back once, and fewer decoder steps did the work
    assert sorted(id(sample) for sample, _ in merged) == sorted(id(b) for b in batches)
    assert len(steps) < alone_steps
    for sample, got in merged:
        want = alone[next(i for i, b in enumerate(batches) if b is sample)]
        for g_hypos, w_hypos in zip(got, want, strict=True):
            assert [h["tokens"].tolist() for h in g_hypos] == [h["tokens"].tolist() for h in w_hypos]
            assert [h["score"] for h in g_hypos] == pytest.approx([h["score"] for h in w_hypos], abs=1e-4)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_beam_search_on_a_gpu_gives_the_cpus_hypotheses_and_keeps_no_logits_buffer(copy_run):
    task, model = _load(copy_run.save / "checkpoint_last.pt")
    d = task.target_dictionary
    cfg = GenerationConfig(beam=5, nbest=5)
    batches = _test_batches(task, copy_run.data)
    want = [SequenceGenerator([model], d, cfg)(b) for b in batches]
    generator = SequenceGenerator([model.cuda()], d, cfg)
    for sample, want_batch in zip(batches, want):
        net_input = {k: v.cuda() for k, v in sample["net_input"].items()}
        got_batch = generator({"net_input": net_input})
        for g_hypos, w_hypos in zip(got_batch, want_batch):
            assert [h["tokens"].tolist() for h in g_hypos] == [h["tokens"].tolist() for h in w_hypos]
            assert [h["score"] for h in g_hypos] == pytest.approx([h["score"] for h in w_hypos], abs=1e-3)
    # the caching allocator reuses blocks; a kept buffer would hold memory between validations
    assert generator.model._logits_buffer is None


def test_an_ensemble_of_the_checkpoint_with_itself_gives_its_output(copy_run, capsys):
    last = str(copy_run.save / "checkpoint_last.pt")
    argv = [str(copy_run.data), "--beam", "4", "--nbest", "4", "--batch-size", "8"]
    assert generate([*argv, "--path", last]) == 0
    alone, _ = _lines(capsys.readouterr().out)
    assert generate([*argv, "--path", f"{last}{os.pathsep}{last}"]) == 0
    twice, _ = _lines(capsys.readouterr().out)
    assert alone["S"] == twice["S"]
    for sid, hyps in alone["H"].items():
        assert [h.split("\t")[1] for h in hyps] == [h.split("\t")[1] for h in twice["H"][sid]]
        scores = [float(h.split("\t")[0]) for h in twice["H"][sid]]
        assert [float(h.split("\t")[0]) for h in hyps] == pytest.approx(scores, abs=1e-4)


def test_interactive_works_from_the_checkpoint_after_the_data_is_deleted(
    copy_run, tmp_path, capsys, monkeypatch
):
    checkpoint = tmp_path / "model.pt"
    shutil.copy(copy_run.save / "checkpoint_last.pt", checkpoint)
    moved = tmp_path / "data-gone"
    shutil.move(str(copy_run.data), moved)  # the checkpoint's recorded data directory no longer exists
    try:
        sentences = copy_run.test[:6] + ["kite lamp apple"]
        monkeypatch.setattr("sys.stdin", io.StringIO("".join(s + "\n" for s in sentences)))
        assert (
            interactive(["--path", str(checkpoint), "--beam", "5", "--buffer-size", "3", "--batch-size", "3"])
            == 0
        )
        found, _ = _lines(capsys.readouterr().out)
    finally:
        shutil.move(str(moved), copy_run.data)
    assert [found["D"][i][0].split("\t")[1] for i in range(len(sentences))] == sentences


def _diagonal(pieces: int) -> str:
    return " ".join(f"{j}-{j}" for j in range(pieces))


def test_print_alignment_pairs_each_copied_token_with_the_source_token_it_copies(copy_run, capsys):
    last = str(copy_run.save / "checkpoint_last.pt")
    argv = [str(copy_run.data), "--path", last, "--beam", "5", "--batch-size", "16"]
    assert generate([*argv, "--print-alignment"]) == 0
    found, _ = _lines(capsys.readouterr().out)
    ids = range(len(copy_run.test))
    # the batches mix lengths, so left padding must not shift the source indices
    assert {i: found["A"][i][0] for i in ids} == {i: _diagonal(len(copy_run.test[i].split())) for i in ids}
    assert generate([*argv, "--print-alignment", "--score-reference"]) == 0
    scored, _ = _lines(capsys.readouterr().out)
    assert scored["A"] == found["A"]

    assert generate([*argv, "--print-alignment", "soft", "--nbest", "2"]) == 0
    soft, _ = _lines(capsys.readouterr().out)
    for i in ids:
        assert len(soft["A"][i]) == len(soft["H"][i]) == 2  # one A- line after each hypothesis
        for hypo, line in zip(soft["H"][i], soft["A"][i]):
            rows = [[float(w) for w in row.split(",")] for row in line.split()]
            words = len(copy_run.test[i].split())
            assert len(rows) == len(hypo.split("\t")[1].split()) + 1  # a row per token and </s>
            assert all(len(row) == words + 1 for row in rows)  # a weight per source token and </s>
            assert all(sum(row) == pytest.approx(1.0, abs=1e-4) for row in rows)


def test_alignments_use_the_attention_the_search_saw_step_by_step(copy_run):
    task, model = _load(copy_run.save / "checkpoint_last.pt")
    d = task.target_dictionary
    generator = SequenceGenerator([model], d, GenerationConfig(beam=4, nbest=4))
    sample = _test_batches(task, copy_run.data)[0]
    hypos = generator(sample)
    add_alignments([model], sample["net_input"], hypos, 4, "hard", d.pad(), d.eos())
    for i, sentence in enumerate(hypos):
        src = sample["net_input"]["src_tokens"][i]
        kept = src.ne(d.pad())
        with torch.no_grad():
            encoder_out = model.encoder(src[kept].unsqueeze(0), src_lengths=torch.tensor([int(kept.sum())]))
            for hypo in sentence:
                state: dict = {}
                tokens, steps = [d.eos()], []
                for token in hypo["tokens"].tolist():
                    _, extra = model.decoder(
                        torch.tensor([tokens]),
                        encoder_out=encoder_out,
                        incremental_state=state,
                        need_attn=True,
                    )
                    steps.append(extra["attn"][0][0, -1])
                    tokens.append(token)
                seen = torch.stack(steps, dim=1)  # source x target, as the hypothesis holds it
                assert hypo["attention"].shape == (src.numel(), len(tokens) - 1)
                assert torch.allclose(hypo["attention"][kept], seen, atol=1e-5)
                assert float(hypo["attention"][~kept].abs().sum()) == 0.0


def test_interactive_prints_alignments(copy_run, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("kite lamp apple\nink jam\n"))
    last = str(copy_run.save / "checkpoint_last.pt")
    assert interactive(["--path", last, "--print-alignment", "--batch-size", "2", "--buffer-size", "2"]) == 0
    found, _ = _lines(capsys.readouterr().out)
    assert found["A"] == {0: [_diagonal(3)], 1: [_diagonal(2)]}


def test_retain_dropout_makes_outputs_depend_on_the_seed(copy_run, tmp_path, capsys):
    checkpoint = load_checkpoint_file(str(copy_run.save / "checkpoint_last.pt"))
    checkpoint["config"]["dropout"] = 0.3  # the copy model trained without dropout
    path = tmp_path / "dropout.pt"
    atomic_save(checkpoint, str(path))
    argv = [str(copy_run.data), "--path", str(path), "--beam", "2", "--batch-size", "40"]

    def scores(*flags: str) -> list[str]:
        assert generate([*argv, "--results-path", str(tmp_path / "out"), *flags]) == 0
        capsys.readouterr()
        text = (tmp_path / "out" / "generate-test.txt").read_text(encoding="utf-8")
        return sorted(line for line in text.splitlines() if line.startswith("P-"))

    plain = scores("--seed", "1")
    assert scores("--seed", "2") == plain  # dropout is off by default
    dropped = scores("--retain-dropout", "--seed", "1")
    assert dropped != plain
    assert scores("--retain-dropout", "--seed", "1") == dropped  # repeatable with the same seed
    assert scores("--retain-dropout", "--seed", "2") != dropped
    in_decoder_layers = scores("--retain-dropout", "--retain-dropout-modules", "TransformerDecoderLayer")
    assert in_decoder_layers not in (plain, dropped)
    assert generate([*argv, "--retain-dropout", "--retain-dropout-modules", "TransformerDecoderLayr"]) == 2
    assert (
        "no module of class TransformerDecoderLayr (did you mean TransformerDecoderLayer"
        in capsys.readouterr().err
    )


def _language_model(root: Path, lines: list[str], preprocess_flags: list[str]) -> Path:
    """A small transformer_lm trained briefly on ``lines``; returns its checkpoint."""
    _write(root / "mono.txt", lines)
    argv = ["--only-source", "--trainpref", str(root / "mono.txt"), "--validpref", str(root / "mono.txt")]
    assert preprocess([*argv, *preprocess_flags, "--destdir", str(root / "lm-bin")]) == 0
    _train(
        str(root / "lm-bin"),
        *("--task", "language_modeling", "--arch", "transformer_lm", "--decoder-layers", "1"),
        *("--decoder-embed-dim", "32", "--decoder-ffn-embed-dim", "64", "--decoder-attention-heads", "2"),
        *("--tokens-per-sample", "16", "--dropout", "0"),
        *TRAINING,
        *("--max-update", "60", "--save-dir", str(root / "lm-ckpt")),
    )
    return root / "lm-ckpt" / "checkpoint_last.pt"


def test_interactive_constraints_put_the_phrases_in_every_translation(copy_run, capsys, monkeypatch):
    lines = ["dog cat fish\tkite lamp", "apple bird\tink\tegg", "goat hat jam"]
    last = str(copy_run.save / "checkpoint_last.pt")
    argv = ["--path", last, "--beam", "4", "--nbest", "4", "--buffer-size", "3", "--batch-size", "3"]
    found = {}
    for mode in ("ordered", "unordered"):
        monkeypatch.setattr("sys.stdin", io.StringIO("".join(line + "\n" for line in lines)))
        assert interactive([*argv, "--constraints", mode]) == 0
        found[mode], _ = _lines(capsys.readouterr().out)
    ordered = found["ordered"]
    assert ordered["C"] == {0: ["▁kite ▁lamp"], 1: ["▁ink", "▁egg"]}  # fairseq's C- lines
    assert ordered["S"][2] == ["▁goat ▁hat ▁jam"]
    for i, phrases in ((0, ["kite lamp"]), (1, ["ink", "egg"])):
        for hypo in ordered["D"][i]:
            text = hypo.split("\t")[1]
            assert all(p in text for p in phrases), text
            if len(phrases) == 2:
                assert text.index("ink") < text.index("egg")
    # the copy is kept, the phrases are added: the best hypothesis starts with the source
    assert ordered["D"][0][0].split("\t")[1].startswith("dog cat fish")
    assert ordered["D"][2][0].split("\t")[1] == "goat hat jam"  # no constraints: plain beam search
    assert any("egg" in h and h.index("egg") < h.index("ink") for h in found["unordered"]["D"][1])


def test_a_fused_language_model_steers_the_search_as_the_generator_fuses_it(copy_run, tmp_path, capsys):
    # the LM's text starts with "kite": fused strongly enough, the copies start with it too
    rng = random.Random(7)
    lines = [
        " ".join(["kite"] * rng.randint(1, 3) + rng.choices(WORDS, k=rng.randint(1, 4))) for _ in range(400)
    ]
    same_vocabulary = ["--srcdict", str(copy_run.data / "dict.tgt.txt"), "--bpe", "sentencepiece"]
    same_vocabulary += ["--spm-model", str(copy_run.data / "sentencepiece.model")]
    lm_path = _language_model(tmp_path, lines, same_vocabulary)
    last = str(copy_run.save / "checkpoint_last.pt")
    argv = [str(copy_run.data), "--path", last, "--beam", "4", "--nbest", "2", "--batch-size", "8"]
    assert generate(argv) == 0
    plain, _ = _lines(capsys.readouterr().out)
    assert generate([*argv, "--lm-path", str(lm_path), "--lm-weight", "3"]) == 0
    fused, _ = _lines(capsys.readouterr().out)

    def kite_first(found):
        return sum(hyps[0].split("\t")[1].startswith("kite") for hyps in found["D"].values())

    assert kite_first(fused) > kite_first(plain) + 10
    # the tool's output is the generator's with the language model fused, batch by batch
    task, model = _load(copy_run.save / "checkpoint_last.pt")
    _, lm = _load(lm_path)
    config = GenerationConfig(beam=4, nbest=2)
    generator = SequenceGenerator([model], task.target_dictionary, config, lm_model=lm, lm_weight=3.0)
    for sample in _test_batches(task, copy_run.data):
        for sample_id, hyps in zip(sample["id"].tolist(), generator(sample)):
            printed = fused["H"][sample_id]
            assert [h.split("\t")[1] for h in printed] == [
                task.target_dictionary.string(h["tokens"]) for h in hyps[:2]
            ]
            assert [float(h.split("\t")[0]) for h in printed] == pytest.approx(
                [h["score"] / math.log(2) for h in hyps[:2]], abs=1e-4
            )


def test_a_language_model_on_another_vocabulary_is_refused(copy_run, tmp_path, capsys):
    lines = [" ".join(random.Random(i).choices(WORDS, k=4)) for i in range(100)]
    lm_path = _language_model(tmp_path, lines, [])  # a dictionary of its own
    last = str(copy_run.save / "checkpoint_last.pt")
    argv = [str(copy_run.data), "--path", last, "--lm-weight", "0.5", "--lm-path"]
    assert generate([*argv, str(lm_path)]) == 1
    assert "was trained with another dictionary than the translation model's" in capsys.readouterr().err
    assert generate([*argv, last]) == 1
    assert (
        "is an encoder-decoder model (--arch transformer); fuse a language model" in capsys.readouterr().err
    )
    assert generate([str(copy_run.data), "--path", last, "--lm-path", str(lm_path)]) == 2
    assert "--lm-path needs a non-zero --lm-weight" in capsys.readouterr().err


@pytest.fixture(scope="module")
def word_copy_run(copy_run, tmp_path_factory) -> argparse.Namespace:
    """copy_run's corpus on words, with a target vocabulary two words short: those come out as <unk>."""
    root = tmp_path_factory.mktemp("word-copy")
    corpus = copy_run.data.parent
    data = root / "bin"
    argv = [
        "-s",
        "src",
        "-t",
        "tgt",
        "--trainpref",
        str(corpus / "train"),
        "--validpref",
        str(corpus / "valid"),
    ]
    argv += ["--testpref", str(corpus / "test"), "--destdir", str(data), "--nwordstgt", "14"]
    assert preprocess(argv) == 0
    kept = {line.split()[0] for line in (data / "dict.tgt.txt").read_text(encoding="utf-8").splitlines()}
    dropped = sorted(set(WORDS) - kept)
    assert len(dropped) == 2
    model = [a for a in MODEL if a != "--share-all-embeddings"]
    save = root / "checkpoints"
    _train(
        str(data),
        "--task",
        "translation",
        *model,
        *TRAINING,
        "--max-update",
        str(UPDATES),
        "--save-dir",
        str(save),
    )
    return argparse.Namespace(
        data=data, checkpoint=save / "checkpoint_last.pt", dropped=dropped, test=copy_run.test
    )


def test_replace_unk_copies_the_aligned_source_word(word_copy_run, tmp_path, capsys):
    run = word_copy_run
    argv = [str(run.data), "--path", str(run.checkpoint), "--beam", "4", "--batch-size", "16"]
    assert generate(argv) == 0
    plain, _ = _lines(capsys.readouterr().out)
    with_dropped = [i for i, s in enumerate(run.test) if set(s.split()) & set(run.dropped)]
    assert with_dropped
    assert all("<unk>" in plain["H"][i][0] for i in with_dropped)  # the vocabulary cannot say them

    assert generate([*argv, "--replace-unk", "--print-alignment"]) == 0
    replaced, _ = _lines(capsys.readouterr().out)
    assert replaced["P"] == plain["P"]  # the search is the same; only the text changes
    for i, source in enumerate(run.test):
        words, before = source.split(), plain["H"][i][0].split("\t")[1].split()
        after = replaced["H"][i][0].split("\t")[1].split()
        aligned = {int(t): int(s) for s, t in (pair.split("-") for pair in replaced["A"][i][0].split())}
        assert after == [words[aligned[t]] if w == "<unk>" else w for t, w in enumerate(before)]
    # the last layer's attention mostly points at the word being copied
    copies = sum(replaced["D"][i][0].split("\t")[1] == s for i, s in enumerate(run.test))
    assert copies >= 0.9 * len(run.test)

    table = tmp_path / "table.txt"
    table.write_text(f"{run.dropped[0]} {run.dropped[0].upper()}\n", encoding="utf-8")
    assert generate([*argv, "--replace-unk", str(table)]) == 0
    translated, _ = _lines(capsys.readouterr().out)
    for i in range(len(run.test)):
        text = replaced["D"][i][0].split("\t")[1]
        expected = " ".join(w.upper() if w == run.dropped[0] else w for w in text.split())
        assert translated["D"][i][0].split("\t")[1] == expected


def test_interactive_replace_unk_uses_the_words_of_the_input_line(word_copy_run, capsys, monkeypatch):
    sentence = f"lamp {word_copy_run.dropped[1]} ink {word_copy_run.dropped[0]}"
    argv = ["--path", str(word_copy_run.checkpoint), "--print-alignment"]
    printed = {}
    for name, flags in (
        ("plain", ["hard"]),
        ("hard", ["hard", "--replace-unk"]),
        ("soft", ["soft", "--replace-unk"]),
    ):
        monkeypatch.setattr("sys.stdin", io.StringIO(sentence + "\n"))
        assert interactive([*argv, *flags]) == 0
        printed[name], _ = _lines(capsys.readouterr().out)
    hard, soft = printed["hard"], printed["soft"]
    words, after = sentence.split(), hard["H"][0][0].split("\t")[1].split()
    before = printed["plain"]["H"][0][0].split("\t")[1].split()
    aligned = {int(t): int(s) for s, t in (pair.split("-") for pair in hard["A"][0][0].split())}
    assert "<unk>" in before and "<unk>" not in after
    assert after == [words[aligned[t]] if w == "<unk>" else w for t, w in enumerate(before)]
    assert soft["D"] == hard["D"]  # soft alignments printed, the same replacement
    assert len(soft["A"][0][0].split()) == len(after) + 1  # a row of weights per token and </s>


def test_a_bad_replace_unk_table_fails_before_loading(word_copy_run, tmp_path, capsys):
    table = tmp_path / "table.txt"
    table.write_text("kite\n", encoding="utf-8")
    argv = [str(word_copy_run.data), "--path", str(word_copy_run.checkpoint), "--replace-unk"]
    assert generate([*argv, str(table)]) == 2
    assert "line 1: expected 'source target', got 'kite'" in capsys.readouterr().err
    assert generate([*argv, str(tmp_path / "missing.txt")]) == 2
    assert "--replace-unk: cannot read" in capsys.readouterr().err


@pytest.fixture(scope="module")
def lm_run(tmp_path_factory) -> argparse.Namespace:
    """A one-layer transformer_lm (sinusoidal positions) trained on blocks of 16 tokens."""
    root = tmp_path_factory.mktemp("lm")
    rng = random.Random(5)
    for split, n in (("train", 300), ("valid", 30)):
        _write(
            root / f"{split}.txt",
            [" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 9))) for _ in range(n)],
        )
    data = root / "lm"
    argv = ["--only-source", "--trainpref", str(root / "train.txt"), "--validpref", str(root / "valid.txt")]
    assert preprocess([*argv, "--destdir", str(data)]) == 0
    log = _train(
        str(data),
        *("--task", "language_modeling", "--arch", "transformer_lm", "--decoder-layers", "1"),
        *("--decoder-embed-dim", "32", "--decoder-ffn-embed-dim", "64", "--decoder-attention-heads", "2"),
        *("--tokens-per-sample", "16", "--dropout", "0"),
        *TRAINING,
        *("--max-update", "40", "--save-dir", str(root / "ckpt")),
    )
    validated = float(re.findall(r"\| valid \| loss ([\d.]+)", log)[-1])
    return argparse.Namespace(data=data, path=str(root / "ckpt" / "checkpoint_last.pt"), validated=validated)


def _eval_lm_summary(lm_run: argparse.Namespace, capsys, *extra: str) -> tuple[int, str]:
    """(tokens scored, the loss line) of seq-eval-lm on the valid split."""
    argv = [str(lm_run.data), "--path", lm_run.path, "--gen-subset", "valid", "--batch-size", "4", *extra]
    assert eval_lm(argv) == 0
    out = capsys.readouterr().out
    count = int(re.search(r"Evaluated (\d+) tokens", out).group(1))
    return count, re.search(r"Loss \(base 2\): .*", out).group(0)


def test_eval_lm_reports_the_loss_training_validated(lm_run, capsys):
    _, line = _eval_lm_summary(lm_run, capsys)
    loss = float(re.search(r"Loss \(base 2\): ([\d.]+)", line).group(1))
    assert loss == pytest.approx(lm_run.validated, abs=1e-3)


def test_eval_lm_reads_context_beyond_the_trained_length_with_sinusoidal_positions(lm_run, capsys):
    # 16 tokens per block + 16 of context = 32 positions, twice what the model was trained on
    plain_count, plain = _eval_lm_summary(lm_run, capsys)
    count, with_context = _eval_lm_summary(lm_run, capsys, "--context-window", "16")
    # the same as a model told it may read 64 positions: sinusoids do not depend on that limit
    wider = ["--model-overrides", '{"max_target_positions": 64}']
    _, with_wider_limit = _eval_lm_summary(lm_run, capsys, "--context-window", "16", *wider)
    assert count == plain_count  # every token still scored once
    assert with_context == with_wider_limit
    assert with_context != plain  # the context changed what the model predicted


def test_learned_positions_refuse_a_context_beyond_their_table():
    class Model(torch.nn.Module):
        def __init__(self, learned: bool | None) -> None:
            super().__init__()
            self.decoder = torch.nn.Module()
            positions = None if learned is None else build_positional_embedding(8, 1, 16, learned, "--x")
            self.decoder.embed_positions = positions

        def max_positions(self) -> int:
            return 16

    assert position_limit([Model(learned=True)], 16) is None
    assert position_limit([Model(learned=False), Model(learned=True)], 17) == 16
    assert position_limit([Model(learned=False), Model(learned=None)], 1000) is None
