"""The translation and language_modeling tasks over a data directory laid out as seq-preprocess writes it."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from seqlab.core import SeqlabError, get_plugin, plugin_names, setup_task
from seqlab.core.options import TASK, ToolSpec, parse
from seqlab.tasks.binarizer import binarize_file, build_dictionary, count_tokens
from seqlab.tasks.sentencepiece_model import MODEL_FILENAME, SentencePieceModel

EN = ["a small dog runs", "two men talk", "", "the sky is blue today", "red car", "a b c d e f g h"] * 5
DE = ["ein kleiner hund rennt", "zwei männer reden", "", "der himmel ist heute blau", "rotes auto", "x"] * 5


def _preprocess(destdir, splits, src="en", tgt="de", with_spm=True):
    os.makedirs(destdir, exist_ok=True)
    raw = {}
    for split, (en, de) in splits.items():
        for lang, lines in ((src, en), (tgt, de)):
            path = os.path.join(destdir, f"raw.{split}.{lang}")
            with open(path, "w", encoding="utf-8", newline="\n") as f:
                f.writelines(line + "\n" for line in lines)
            raw[split, lang] = path
    spm = SentencePieceModel.train(EN + DE, vocab_size=300) if with_spm else None
    if spm is not None:
        spm.save(os.path.join(destdir, MODEL_FILENAME))
    d = build_dictionary(count_tokens([raw["train", src], raw["train", tgt]], spm), spm)
    for lang in (src, tgt):
        d.save(os.path.join(destdir, f"dict.{lang}.txt"))
    for (split, lang), path in raw.items():
        binarize_file(path, os.path.join(destdir, f"{split}.{src}-{tgt}.{lang}"), d, spm)
    return d, spm


def _args(argv):
    return parse(ToolSpec("test", "", choices=(TASK,)), argv).args


@pytest.fixture()
def data_dir(tmp_path):
    _preprocess(str(tmp_path / "bin"), {"train": (EN, DE), "valid": (EN[:6], DE[:6])})
    return str(tmp_path / "bin")


def test_tasks_are_installed_plugins():
    assert {"translation", "language_modeling"} <= set(plugin_names("task"))
    assert get_plugin("task", "translation").dataclass.__name__ == "TranslationConfig"


def test_languages_are_inferred_and_batches_decode_to_the_input(data_dir):
    args = _args([data_dir, "--task", "translation"])
    assert (args.left_pad_source, args.max_source_positions) == (True, 1024)
    task = setup_task(args)
    assert (args.source_lang, args.target_lang) == ("en", "de")
    assert task.spm_model_path == os.path.join(data_dir, MODEL_FILENAME)
    spm = task.load_sentencepiece()
    task.load_dataset("valid")
    ds = task.dataset("valid")
    itr = task.get_batch_iterator(ds, max_tokens=64, max_positions=task.max_positions(), seed=1)
    seen = {}
    for batch in itr.next_epoch_itr(shuffle=False):
        for row, idx in enumerate(batch["id"].tolist()):
            seen[idx] = spm.decode(task.target_dictionary.string(batch["target"][row]))
            src = spm.decode(task.source_dictionary.string(batch["net_input"]["src_tokens"][row]))
            assert src == EN[idx]
    assert seen == dict(enumerate(DE[:6]))


def test_flags_with_fairseq_spelling_and_reverse_direction(data_dir):
    args = _args([data_dir, "--task", "translation", "-s", "de", "-t", "en", "--left-pad-source", "False"])
    task = setup_task(args)
    task.load_dataset("train")
    ds = task.dataset("train")
    assert ds.left_pad_source is False
    assert len(ds) == len(DE)
    assert task.max_positions() == (1024, 1024)


def test_too_long_examples_raise_or_are_skipped(data_dir):
    args = _args([data_dir, "--task", "translation", "--max-source-positions", "6"])
    task = setup_task(args)
    task.load_dataset("train")
    ds = task.dataset("train")
    with pytest.raises(SeqlabError, match=r"example \d+ has size \(\d+, \d+\), more than the max positions"):
        task.get_batch_iterator(ds, max_tokens=200, max_positions=task.max_positions())
    itr = task.get_batch_iterator(
        ds, max_tokens=200, max_positions=task.max_positions(), ignore_invalid_inputs=True
    )
    kept = [i for b in itr.next_epoch_itr() for i in b["id"].tolist()]
    assert kept and all(ds.src_sizes[i] <= 6 for i in kept)
    assert len(kept) == int(np.sum(ds.src_sizes <= 6))


def test_truncate_source_cuts_long_sources_instead_of_skipping_them(data_dir):
    args = _args([data_dir, "--task", "translation", "--max-source-positions", "6", "--truncate-source"])
    task = setup_task(args)
    task.load_dataset("train")
    ds = task.dataset("train")
    full = setup_task(_args([data_dir, "--task", "translation"]))
    full.load_dataset("train")
    whole = full.dataset("train")
    assert int(np.max(whole.src_sizes)) > 6 and int(np.max(ds.src_sizes)) == 6
    eos = task.source_dictionary.eos()
    for i in range(len(ds)):
        src, original = ds[i]["source"], whole[i]["source"]
        if len(original) <= 6:
            assert torch.equal(src, original)
        else:  # the first 5 tokens, then </s>
            assert src.tolist() == [*original[:5].tolist(), eos]
    itr = task.get_batch_iterator(ds, max_tokens=200, max_positions=task.max_positions())
    assert sum(len(b["id"]) for b in itr.next_epoch_itr()) == len(ds)  # nothing skipped, nothing raised


def test_missing_files_are_clear_errors(tmp_path, data_dir):
    with pytest.raises(SeqlabError, match="has no <split>.<src>-<tgt>.<lang>.idx files"):
        setup_task(_args([str(tmp_path), "--task", "translation"]))
    with pytest.raises(SeqlabError, match=r"dict\.fr\.txt does not exist"):
        setup_task(_args([data_dir, "--task", "translation", "-s", "en", "-t", "fr"]))
    task = setup_task(_args([data_dir, "--task", "translation"]))
    with pytest.raises(SeqlabError, match=r"test\.en-de\.en\.idx does not exist; binarize the test split"):
        task.load_dataset("test")


def test_several_pairs_need_explicit_languages(tmp_path):
    _preprocess(str(tmp_path / "bin"), {"train": (EN, DE)}, with_spm=False)
    _preprocess(str(tmp_path / "bin"), {"train": (EN, DE)}, src="en", tgt="fr", with_spm=False)
    with pytest.raises(SeqlabError, match=r"several language pairs \(en-de, en-fr\)"):
        setup_task(_args([str(tmp_path / "bin"), "--task", "translation"]))


def test_dictionary_that_does_not_match_the_data(data_dir):
    with open(os.path.join(data_dir, "dict.de.txt"), "a", encoding="utf-8") as f:
        f.writelines(f"extra{i} 1\n" for i in range(8))
    task = setup_task(_args([data_dir, "--task", "translation"]))
    with pytest.raises(SeqlabError, match="binarized with a dictionary of"):
        task.load_dataset("train")


def _lm_data(destdir, lines):
    os.makedirs(destdir, exist_ok=True)
    raw = os.path.join(destdir, "raw.txt")
    with open(raw, "w", encoding="utf-8") as f:
        f.writelines(line + "\n" for line in lines)
    d = build_dictionary(count_tokens([raw]))
    d.save(os.path.join(destdir, "dict.txt"))
    binarize_file(raw, os.path.join(destdir, "train"), d)
    return d


@pytest.mark.parametrize("mode", ["none", "complete", "eos"])
def test_language_modeling_blocks(tmp_path, mode):
    d = _lm_data(str(tmp_path / "lm"), EN)
    args = _args(
        [
            str(tmp_path / "lm"),
            "--task",
            "language_modeling",
            "--tokens-per-sample",
            "8",
            "--sample-break-mode",
            mode,
        ]
    )
    task = setup_task(args)
    assert task.source_dictionary is task.target_dictionary
    task.load_dataset("train")
    ds = task.dataset("train")
    itr = task.get_batch_iterator(
        ds, max_tokens=64, max_positions=task.max_positions(), ignore_invalid_inputs=True
    )
    targets = {}
    for batch in itr.next_epoch_itr(shuffle=False):
        assert batch["net_input"]["src_tokens"].shape == batch["target"].shape
        assert batch["target"].shape[1] <= 8
        for row, idx in enumerate(batch["id"].tolist()):
            targets[idx] = [t for t in batch["target"][row].tolist() if t != d.pad()]
    if mode == "none":
        stream = [t for i in sorted(targets) for t in targets[i]]
        expected = [t for line in EN for t in d.encode_line(line, add_if_not_exist=False).tolist()]
        assert stream == expected
    if mode == "eos":
        assert all(t[-1] == d.eos() for t in targets.values())


def test_language_modeling_missing_split(tmp_path):
    _lm_data(str(tmp_path / "lm"), EN)
    task = setup_task(_args([str(tmp_path / "lm"), "--task", "language_modeling"]))
    with pytest.raises(SeqlabError, match=r"valid\.idx does not exist; binarize language-model text"):
        task.load_dataset("valid")


@pytest.mark.parametrize("num_workers", [0, 2])
def test_translation_batches_resume_mid_epoch_per_shard(data_dir, num_workers):
    task = setup_task(_args([data_dir, "--task", "translation"]))
    task.load_dataset("train")
    ds = task.dataset("train")

    def make(shard_id):
        return task.get_batch_iterator(
            ds, max_tokens=48, seed=7, num_shards=2, shard_id=shard_id, num_workers=num_workers,
            disable_iterator_cache=True,
        )  # fmt: skip

    def ids(batch):
        return tuple(batch["id"].tolist()) if batch else ()

    shards = [[ids(b) for b in make(s).next_epoch_itr()] for s in range(2)]
    assert len(shards[0]) == len(shards[1]) > 3
    seen = [i for shard in shards for b in shard for i in b]
    assert sorted(seen) == list(range(len(ds)))
    for shard_id in range(2):
        first = make(shard_id)
        itr = first.next_epoch_itr()
        taken = [ids(next(itr)) for _ in range(3)]
        resumed = make(shard_id)
        resumed.load_state_dict(first.state_dict())
        assert taken + [ids(b) for b in resumed.next_epoch_itr()] == shards[shard_id]
