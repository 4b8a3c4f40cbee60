"""seq-generate: fairseq's output lines, BLEU equal to sacrebleu's on them, ensembles, plugin errors."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import sacrebleu

import seqlab.tasks.translation  # noqa: F401  (registered once, outside the tests' isolated registries)
from seqlab.cli.generate import main
from seqlab.cli.preprocess import main as preprocess
from seqlab.core import import_user_dir
from seqlab.core.checkpoint_io import atomic_save, load_checkpoint_file
from seqlab.core.testing import isolated_plugins
from seqlab.tasks.sentencepiece_model import MODEL_FILENAME, SentencePieceModel

TOYS = str(Path(__file__).with_name("generation_toys"))
with isolated_plugins():  # the helpers only; each test imports the user dir as it needs
    toys = import_user_dir(TOYS)
TEST_SRC, TEST_TGT = toys.TEST_SRC, toys.TEST_TGT


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """A sentencepiece-segmented translation data directory with a held-out test split."""
    return toys.translation_data(tmp_path_factory.mktemp("gen"))


@pytest.fixture()
def checkpoint(data, tmp_path) -> str:
    """A toy_seq2seq checkpoint; the user dir is imported only while it is written."""
    path = tmp_path / "toy.pt"
    with isolated_plugins():
        import_user_dir(TOYS).write_checkpoint(path, data)
    return str(path)


def parse_output(text: str) -> tuple[dict[str, dict[int, list[str]]], list[str]]:
    """Lines by kind (S, T, H, D, P) and sentence id, and the other lines."""
    found: dict[str, dict[int, list[str]]] = {k: {} for k in "STHDPW"}
    other = []
    for line in text.splitlines():
        head, _, rest = line.partition("\t")
        kind, _, sid = head.partition("-")
        if kind in found and sid.isdigit():
            found[kind].setdefault(int(sid), []).append(rest)
        else:
            other.append(line)
    return found, other


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    rc = main(argv)
    out, err = capsys.readouterr()
    return rc, out, err


GEN = ["--beam", "3", "--max-len-b", "8", "--batch-size", "2"]


def test_lines_and_bleu_equal_sacrebleu_on_the_written_file(data, checkpoint, tmp_path, capsys):
    results = tmp_path / "results"
    rc, out, err = run(
        [str(data), "--path", checkpoint, "--user-dir", TOYS, *GEN, "--results-path", str(results)], capsys
    )
    assert rc == 0, err
    assert out == ""  # everything went to the file
    assert sorted(os.listdir(results)) == ["generate-test.txt"]
    lines, other = parse_output((results / "generate-test.txt").read_text(encoding="utf-8"))
    ids = range(len(TEST_SRC))
    # sentencepiece decoding is automatic: sources and references come back as the raw text
    assert {i: lines["S"][i][0] for i in ids} == dict(enumerate(TEST_SRC))
    assert {i: lines["T"][i][0] for i in ids} == dict(enumerate(TEST_TGT))
    spm = SentencePieceModel.load(str(data / MODEL_FILENAME))
    for i in ids:
        h_score, pieces = lines["H"][i][0].split("\t")
        d_score, text = lines["D"][i][0].split("\t")
        positional = [float(x) for x in lines["P"][i][0].split()]
        assert h_score == d_score and text == spm.decode(pieces)
        assert len(positional) == len(pieces.split()) + 1  # and </s>
        assert float(h_score) == pytest.approx(sum(positional) / len(positional), abs=1e-3)
    hyps = [lines["D"][i][0].split("\t")[1] for i in ids]
    bleu = sacrebleu.corpus_bleu(hyps, [TEST_TGT])
    assert other == [f"Generate test with beam=3: {bleu.format()}"]
    assert "sentences/s" in err and "tokens/s" in err


def test_scoring_bleu_is_fairseqs_bleu_over_the_printed_tokens(data, checkpoint, capsys):
    argv = [str(data), "--path", checkpoint, "--user-dir", TOYS, *GEN, "--remove-bpe", "sentencepiece"]
    rc, out, err = run([*argv, "--scoring", "bleu"], capsys)
    assert rc == 0, err
    lines, other = parse_output(out)
    hyps = [lines["H"][i][0].split("\t")[1] for i in range(len(TEST_SRC))]
    refs = [lines["T"][i][0] for i in range(len(TEST_SRC))]
    # with words as tokens, fairseq's BLEU is sacrebleu's without tokenization or smoothing
    expected = sacrebleu.corpus_bleu(hyps, [refs], tokenize="none", smooth_method="none", force=True)
    (line,) = other
    assert line.startswith(f"Generate test with beam=3: BLEU4 = {expected.score:2.2f}, ")
    grams = "/".join(f"{p:2.1f}" for p in expected.precisions)
    assert f", {grams} (BP={expected.bp:.3f}," in line
    # without --remove-bpe the tokens are the pieces the H- lines print, the reference's too
    rc, out, err = run([*argv[:-2], "--scoring", "bleu"], capsys)
    assert rc == 0, err
    spm = SentencePieceModel.load(str(data / MODEL_FILENAME))
    lines, _ = parse_output(out)
    syslen = sum(len(lines["H"][i][0].split("\t")[1].split()) for i in range(len(TEST_SRC)))
    reflen = sum(len(spm.encode(ref)) for ref in refs)
    assert f"syslen={syslen}, reflen={reflen})" in out and syslen != expected.sys_len
    assert f"syslen={expected.sys_len}, reflen={expected.ref_len})" in line


def test_an_ensemble_of_a_checkpoint_with_itself_gives_the_checkpoints_output(data, checkpoint, capsys):
    rc, alone, err = run([str(data), "--path", checkpoint, "--user-dir", TOYS, *GEN, "--nbest", "3"], capsys)
    assert rc == 0, err
    rc, twice, err = run(
        [
            str(data),
            "--path",
            f"{checkpoint}{os.pathsep}{checkpoint}",
            "--user-dir",
            TOYS,
            *GEN,
            "--nbest",
            "3",
        ],
        capsys,
    )
    assert rc == 0, err
    a, _ = parse_output(alone)
    b, _ = parse_output(twice)
    assert a["S"] == b["S"] and a["T"] == b["T"]
    for sid, hyps in a["H"].items():
        assert [h.split("\t")[1] for h in hyps] == [h.split("\t")[1] for h in b["H"][sid]]
        assert [float(h.split("\t")[0]) for h in hyps] == pytest.approx(
            [float(h.split("\t")[0]) for h in b["H"][sid]], abs=1e-5
        )
        assert len(hyps) == 3
        scores = [float(h.split("\t")[0]) for h in hyps]
        assert scores == sorted(scores, reverse=True)


def test_remove_bpe_sentencepiece_prints_words(data, checkpoint, capsys):
    rc, out, err = run(
        [str(data), "--path", checkpoint, "--user-dir", TOYS, *GEN, "--remove-bpe", "sentencepiece"], capsys
    )
    assert rc == 0, err
    lines, _ = parse_output(out)
    for sid, hyps in lines["H"].items():
        text = hyps[0].split("\t")[1]
        assert "\u2581" not in text and lines["D"][sid][0].split("\t")[1] == text
    assert {lines["T"][i][0] for i in lines["T"]} == set(TEST_TGT)


def test_prefix_size_forces_the_start_of_each_reference(data, checkpoint, capsys):
    rc, out, err = run(
        [str(data), "--path", checkpoint, "--user-dir", TOYS, *GEN, "--prefix-size", "2"], capsys
    )
    assert rc == 0, err
    spm = SentencePieceModel.load(str(data / MODEL_FILENAME))
    lines, _ = parse_output(out)
    for sid, refs in lines["T"].items():
        pieces = spm.encode(refs[0])
        got = lines["H"][sid][0].split("\t")[1].split(" ")
        assert got[:2] == pieces[:2]
        if len(pieces) < 2:  # the prefix held the reference's </s>: the hypothesis ends there
            assert got == pieces


def test_a_checkpoint_from_a_user_dir_that_is_not_passed_fails_in_one_line(data, checkpoint, capsys):
    rc, out, err = run([str(data), "--path", checkpoint, *GEN], capsys)
    real = os.path.realpath(TOYS)
    assert rc == 2 and out == ""
    assert err == (
        f"seq-generate: error: checkpoint {checkpoint} needs the model 'toy_seq2seq' from the user dir {real}, "
        f"which is not loaded; pass --user-dir {real}\n"
    )


def test_a_checkpoint_from_a_distribution_that_is_not_installed_fails_in_one_line(data, checkpoint, capsys):
    state = load_checkpoint_file(checkpoint)
    record = {
        "kind": "model",
        "name": "conformer",
        "distribution": "seqlab-models-conformer",
        "version": "0.3.1",
        "module": "seqlab.models.conformer",
    }
    state["plugins"]["model"] = record
    state["plugins"]["arch"] = {**record, "kind": "architecture"}
    state["config"]["arch"] = "conformer"
    atomic_save(state, checkpoint)
    rc, _, err = run([str(data), "--path", checkpoint, "--user-dir", TOYS, *GEN], capsys)
    assert rc == 2
    assert err == (
        f"seq-generate: error: checkpoint {checkpoint} needs the model 'conformer' from seqlab-models-conformer "
        "0.3.1, which is not installed; pip install seqlab-models-conformer\n"
    )


def test_data_binarized_with_other_dictionaries_is_refused(checkpoint, tmp_path, capsys):
    other = toys.translation_data(tmp_path / "other", seed=7)  # other training text: other pieces
    rc, _, err = run([str(other), "--path", checkpoint, "--user-dir", TOYS, *GEN], capsys)
    assert rc == 1
    assert f"{other} was binarized with another source dictionary than checkpoint {checkpoint}" in err


def test_an_ensemble_of_checkpoints_with_other_dictionaries_is_refused(data, checkpoint, tmp_path, capsys):
    other_data = toys.translation_data(tmp_path / "other", seed=7)
    other = tmp_path / "other.pt"
    with isolated_plugins():
        import_user_dir(TOYS).write_checkpoint(other, other_data)
    rc, _, err = run(
        [str(data), "--path", f"{checkpoint}{os.pathsep}{other}", "--user-dir", TOYS, *GEN], capsys
    )
    assert rc == 1
    assert f"an ensemble needs the same dictionaries: {other} was trained with other dictionaries" in err


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--beam", "2", "--nbest", "5"], "--nbest 5 must be between 1 and --beam 2"),
        (["--sampling-topk", "5"], "--sampling-topk and --sampling-topp need --sampling"),
        (["--bogus"], "unknown option --bogus"),
        (
            ["--beam", "5", "--diverse-beam-groups", "2"],
            "--beam 5 must be a multiple of --diverse-beam-groups 2",
        ),
        (["--sampling", "--diversity-rate", "0.5"], "choose one of --sampling, --diverse-beam-groups and"),
        (["--diversity-rate", "-0.5"], "--diversity-rate must be 0 or more (or -1: off), not -0.5"),
        (["--model-overrides", '{"toy_dimm": 8}'], "records no option 'toy_dimm' (did you mean toy_dim?)"),
        (["--model-overrides", "{toy_dim"], "--model-overrides must be a JSON object"),
        (["--model-overrides", "[1, 2]"], "--model-overrides must map option names to values"),
    ],
)
def test_bad_generation_options_fail_in_one_line(data, checkpoint, capsys, flags, message):
    rc, _, err = run([str(data), "--path", checkpoint, "--user-dir", TOYS, *flags], capsys)
    assert rc == 2 and message in err and len(err.strip().splitlines()) == 1


def test_print_alignment_with_a_decoder_that_returns_no_attention_fails_in_one_line(data, checkpoint, capsys):
    rc, out, err = run(
        [str(data), "--path", checkpoint, "--user-dir", TOYS, *GEN, "--print-alignment"], capsys
    )
    assert rc == 1 and "Traceback" not in err
    assert "error: --print-alignment: ToyDecoder returns no attention over the source" in err.splitlines()[-1]


def test_shards_split_the_batches_between_them_and_write_their_own_files(data, checkpoint, tmp_path, capsys):
    argv = [str(data), "--path", checkpoint, "--user-dir", TOYS, *GEN, "--nbest", "2"]
    rc, whole, err = run(argv, capsys)
    assert rc == 0, err
    everything, _ = parse_output(whole)
    shards = []
    for shard in (0, 1, 2):
        flags = ["--num-shards", "3", "--shard-id", str(shard), "--results-path", str(tmp_path)]
        rc, _, err = run([*argv, *flags], capsys)
        assert rc == 0, err
        text = (tmp_path / f"generate-test-shard{shard}of3.txt").read_text(encoding="utf-8")
        shards.append(parse_output(text)[0])
    ids = [set(lines["H"]) for lines in shards]
    assert all(ids) and sum(len(i) for i in ids) == len(TEST_SRC)  # each sentence in exactly one shard
    assert set().union(*ids) == set(range(len(TEST_SRC)))
    for lines in shards:
        assert lines["H"] == {i: everything["H"][i] for i in lines["H"]}
        assert lines["P"] == {i: everything["P"][i] for i in lines["P"]}


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--num-shards", "0"], "--num-shards must be at least 1, not 0"),
        (["--num-shards", "2", "--shard-id", "2"], "--shard-id 2 must be from 0 to --num-shards - 1 (1)"),
    ],
)
def test_bad_shards_fail_in_one_line(data, checkpoint, capsys, flags, message):
    rc, _, err = run([str(data), "--path", checkpoint, "--user-dir", TOYS, *flags], capsys)
    assert rc == 2 and message in err and len(err.strip().splitlines()) == 1


def test_print_config_shows_the_checkpoints_options_and_the_typed_ones(data, checkpoint, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([str(data), "--path", checkpoint, "--user-dir", TOYS, "--beam", "7", "--print-config"])
    assert exit_info.value.code == 0
    rows = {line.split("=")[0].strip(): line for line in capsys.readouterr().out.splitlines()}
    assert rows["arch"].endswith(f"# checkpoint {checkpoint}") and '"toy_seq2seq"' in rows["arch"]
    assert rows["beam"].endswith("# command line") and "= 7" in rows["beam"]
    assert rows["lenpen"].endswith("# default (seq-generate)")


def test_path_is_required_and_must_exist(data, capsys):
    rc, _, err = run([str(data)], capsys)
    assert rc == 2 and "--path is required" in err
    rc, _, err = run([str(data), "--path", "nowhere.pt"], capsys)
    assert rc == 1 and "checkpoint nowhere.pt does not exist" in err


def test_bf16_on_a_cpu_generates_and_widens_onednn_cache(data, checkpoint, capsys, monkeypatch):
    from seqlab.core.onednn_cache import CAPACITY, ENV_NAMES

    for name in ENV_NAMES:
        monkeypatch.setenv(name, "unset")  # recorded, so that what generation sets is undone
        monkeypatch.delenv(name)
    rc, out, err = run([str(data), "--path", checkpoint, "--user-dir", TOYS, *GEN, "--cpu", "--bf16"], capsys)
    assert rc == 0, err
    lines, _ = parse_output(out)
    assert len(lines["H"]) == len(TEST_SRC)
    assert os.environ[ENV_NAMES[0]] == str(CAPACITY)


def test_score_reference_gives_the_scores_the_search_gave_its_own_output(data, checkpoint, tmp_path, capsys):
    # greedy search's hypotheses, made the references of a second data directory (the same
    # dictionary, the pieces as they were generated): scoring them must give the search's scores
    # (--min-len: the untrained toy model would end every hypothesis after one piece)
    greedy = ["--beam", "1", "--min-len", "4", "--max-len-b", "8", "--batch-size", "2"]
    rc, out, err = run([str(data), "--path", checkpoint, "--user-dir", TOYS, *greedy], capsys)
    assert rc == 0, err
    searched, _ = parse_output(out)
    spm = SentencePieceModel.load(str(data / MODEL_FILENAME))
    ids = range(len(TEST_SRC))
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "test.src").write_text("".join(" ".join(spm.encode(s)) + "\n" for s in TEST_SRC), encoding="utf-8")
    hypotheses = [searched["H"][i][0].split("\t")[1] for i in ids]
    (raw / "test.tgt").write_text("".join(h + "\n" for h in hypotheses), encoding="utf-8")
    rescored_data = tmp_path / "bin"
    dictionary = str(data / "dict.src.txt")
    argv = ["-s", "src", "-t", "tgt", "--testpref", str(raw / "test"), "--destdir", str(rescored_data)]
    assert preprocess([*argv, "--srcdict", dictionary, "--tgtdict", dictionary]) == 0

    rc, out, err = run(
        [
            str(rescored_data),
            "--path",
            checkpoint,
            "--user-dir",
            TOYS,
            "--score-reference",
            "--batch-size",
            "2",
        ],
        capsys,
    )
    assert rc == 0, err
    scored, other = parse_output(out)
    for i in ids:
        assert scored["H"][i][0].split("\t")[1] == hypotheses[i]
        assert float(scored["H"][i][0].split("\t")[0]) == pytest.approx(
            float(searched["H"][i][0].split("\t")[0]), abs=1e-4
        )
        assert [float(x) for x in scored["P"][i][0].split()] == pytest.approx(
            [float(x) for x in searched["P"][i][0].split()], abs=1e-4
        )
    assert all(len(scored["P"][i][0].split()) >= 5 for i in ids)
    assert all(scored["D"][i][0].split("\t")[1] == scored["T"][i][0] for i in ids)


def test_score_reference_without_references_fails_in_one_line(data, checkpoint, tmp_path, capsys):
    sources_only = tmp_path / "bin"
    sources_only.mkdir()
    for path in data.iterdir():
        if not path.name.startswith("test.src-tgt.tgt."):  # the references' .bin and .idx
            (sources_only / path.name).write_bytes(path.read_bytes())
    rc, out, err = run(
        [str(sources_only), "--path", checkpoint, "--user-dir", TOYS, "--score-reference"], capsys
    )
    assert rc != 0 and out == ""
    assert err.strip().splitlines()[-1] == (
        "seq-generate: error: --score-reference needs a split with references; this one has only sources"
    )


def test_ema_weights_decode_with_the_saved_average(data, tmp_path, capsys):
    paths = {}
    for seed in (0, 1):
        paths[seed] = tmp_path / f"seed{seed}.pt"
        with isolated_plugins():
            import_user_dir(TOYS).write_checkpoint(paths[seed], data, seed=seed)
    argv = [str(data), "--user-dir", TOYS, *GEN]
    outputs = {}
    for seed in (0, 1):
        assert main([*argv, "--path", str(paths[seed])]) == 0
        outputs[seed] = parse_output(capsys.readouterr().out)[0]["H"]
    assert outputs[0] != outputs[1]  # the two weight sets translate differently
    averaged = load_checkpoint_file(str(paths[0]))
    averaged["ema"] = load_checkpoint_file(str(paths[1]))["model"]  # as if seed 1's were the average
    atomic_save(averaged, str(tmp_path / "ema.pt"))
    assert main([*argv, "--path", str(tmp_path / "ema.pt"), "--ema-weights"]) == 0
    assert parse_output(capsys.readouterr().out)[0]["H"] == outputs[1]
    assert main([*argv, "--path", str(tmp_path / "ema.pt")]) == 0
    assert parse_output(capsys.readouterr().out)[0]["H"] == outputs[0]
    assert main([*argv, "--path", str(paths[0]), "--ema-weights"]) == 2
    assert "--ema-weights: checkpoint" in capsys.readouterr().err


def test_a_checkpoint_trained_with_moses_bleu_translates_without_sacremoses(
    data, checkpoint, tmp_path, capsys, monkeypatch
):
    saved = load_checkpoint_file(checkpoint)
    saved["config"].update(
        eval_bleu=True, eval_bleu_detok="moses", eval_bleu_detok_args='{"target_lang": "de"}'
    )
    atomic_save(saved, str(tmp_path / "moses.pt"))
    monkeypatch.setitem(sys.modules, "sacremoses", None)  # a machine without it
    rc, out, err = run([str(data), "--path", str(tmp_path / "moses.pt"), "--user-dir", TOYS, *GEN], capsys)
    assert rc == 0, err
    assert parse_output(out)[0]["H"]
