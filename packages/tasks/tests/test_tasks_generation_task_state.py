"""Tasks rebuilt from a checkpoint's ``task_state`` alone: dictionaries and sentencepiece model as plain data."""

from __future__ import annotations

import io
import os
import shutil

import pytest
import torch

from seqlab.core import SeqlabError, get_plugin, setup_task
from seqlab.core.options import TASK, ToolSpec, parse
from seqlab.tasks.binarizer import binarize_file, build_dictionary, count_tokens
from seqlab.tasks.sentencepiece_model import MODEL_FILENAME, SentencePieceModel

EN = ["a small dog runs", "two men talk", "the sky is blue today", "red car", "ünïcode ✓ text"] * 4
DE = ["ein kleiner hund rennt", "zwei männer reden", "der himmel ist heute blau", "rotes auto", "x"] * 4


def _write(path: str, lines: list[str]) -> str:
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.writelines(line + "\n" for line in lines)
    return path


def _translation_data(folder: str) -> None:
    os.makedirs(folder)
    spm = SentencePieceModel.train(EN + DE, vocab_size=300)
    spm.save(os.path.join(folder, MODEL_FILENAME))
    raw = {
        lang: _write(os.path.join(folder, f"raw.{lang}"), lines) for lang, lines in (("en", EN), ("de", DE))
    }
    for lang in ("en", "de"):
        d = build_dictionary(count_tokens([raw[lang]], spm), spm)
        d.save(os.path.join(folder, f"dict.{lang}.txt"))
        binarize_file(raw[lang], os.path.join(folder, f"train.en-de.{lang}"), d, spm)


def _lm_data(folder: str) -> None:
    os.makedirs(folder)
    raw = _write(os.path.join(folder, "raw.txt"), EN)
    d = build_dictionary(count_tokens([raw], None), None)
    d.save(os.path.join(folder, "dict.txt"))
    binarize_file(raw, os.path.join(folder, "train"), d, None)


def _through_checkpoint(state: dict) -> dict:
    """What a checkpoint gives back: torch.save, then torch.load with weights_only=True."""
    buf = io.BytesIO()
    torch.save({"task_state": state}, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)["task_state"]


def _same_dictionary(a, b) -> None:
    assert a.symbols == b.symbols and a.count == b.count and a.indices == b.indices
    assert (a.bos(), a.pad(), a.eos(), a.unk(), a.nspecial) == (
        b.bos(),
        b.pad(),
        b.eos(),
        b.unk(),
        b.nspecial,
    )


def test_translation_task_is_rebuilt_without_its_data_directory(tmp_path):
    data = str(tmp_path / "bin")
    _translation_data(data)
    args = parse(ToolSpec("t", "", choices=(TASK,)), [data, "--task", "translation"]).args
    task = setup_task(args)
    state = _through_checkpoint(task.state_dict())
    shutil.rmtree(data)

    fresh = parse(ToolSpec("t", "", choices=(TASK,)), [data, "--task", "translation"]).args
    rebuilt = get_plugin("task", "translation").obj.setup_task_from_state(fresh, state)
    assert (fresh.source_lang, fresh.target_lang) == ("en", "de")
    _same_dictionary(rebuilt.source_dictionary, task.source_dictionary)
    _same_dictionary(rebuilt.target_dictionary, task.target_dictionary)
    spm = rebuilt.load_sentencepiece()
    assert spm is not None and spm.proto == task.load_sentencepiece().proto
    line = "ünïcode ✓ text and more"
    assert spm.decode(spm.encode(line)) == line


def test_a_direction_other_than_the_checkpoints_is_refused(tmp_path):
    data = str(tmp_path / "bin")
    _translation_data(data)
    args = parse(ToolSpec("t", "", choices=(TASK,)), [data, "--task", "translation"]).args
    state = _through_checkpoint(setup_task(args).state_dict())
    reverse = parse(ToolSpec("t", "", choices=(TASK,)), [data, "--task", "translation", "-s", "de"]).args
    with pytest.raises(SeqlabError, match="translates en-de, not --source-lang de"):
        get_plugin("task", "translation").obj.setup_task_from_state(reverse, state)


def test_language_modeling_task_is_rebuilt_without_its_data_directory(tmp_path):
    data = str(tmp_path / "lm")
    _lm_data(data)
    args = parse(ToolSpec("t", "", choices=(TASK,)), [data, "--task", "language_modeling"]).args
    task = setup_task(args)
    state = _through_checkpoint(task.state_dict())
    assert state["sentencepiece"] is None and state["output_dictionary"] is None
    shutil.rmtree(data)
    rebuilt = get_plugin("task", "language_modeling").obj.setup_task_from_state(args, state)
    _same_dictionary(rebuilt.target_dictionary, task.target_dictionary)
    assert rebuilt.target_dictionary is rebuilt.source_dictionary
    assert rebuilt.load_sentencepiece() is None


def test_a_checkpoint_without_task_state_says_what_to_do(tmp_path):
    args = parse(ToolSpec("t", "", choices=(TASK,)), [str(tmp_path), "--task", "translation"]).args
    with pytest.raises(SeqlabError, match="pass the data directory"):
        get_plugin("task", "translation").obj.setup_task_from_state(args, {})
