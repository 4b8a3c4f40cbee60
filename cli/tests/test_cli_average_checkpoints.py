"""seq-average-checkpoints: the mean of the last N checkpoints' weights."""

from __future__ import annotations

import torch

from seqlab.cli.average_checkpoints import main
from seqlab.core.checkpoint_io import FORMAT_VERSION, atomic_save, load_checkpoint_file


def _write(folder, name, value):
    state = {
        "format_version": FORMAT_VERSION,
        "model": {"w": torch.full((2,), value), "steps": torch.tensor(int(value))},
        "optimizer": {"state": {}},
        "config": {"arch": "x"},
    }
    atomic_save(state, str(folder / name))


def test_last_epoch_checkpoints_are_averaged(tmp_path):
    for epoch, value in [(1, 1.0), (2, 2.0), (3, 4.0), (10, 6.0)]:
        _write(tmp_path, f"checkpoint{epoch}.pt", value)
    out = tmp_path / "avg.pt"
    assert main(["--inputs", str(tmp_path), "--num-epoch-checkpoints", "3", "--output", str(out)]) == 0
    avg = load_checkpoint_file(str(out))
    assert torch.allclose(avg["model"]["w"], torch.full((2,), 4.0))  # epochs 10, 3, 2
    assert avg["model"]["steps"].item() == 6  # integer tensors come from the newest
    assert avg["config"] == {"arch": "x"} and avg["optimizer"] is None
    assert len(avg["averaged_from"]) == 3


def test_update_checkpoints_with_upper_bound_and_explicit_files(tmp_path):
    for upd, value in [(100, 1.0), (200, 3.0), (300, 9.0)]:
        _write(tmp_path, f"checkpoint_1_{upd}.pt", value)
    out = tmp_path / "avg.pt"
    argv = ["--inputs", str(tmp_path), "--num-update-checkpoints", "2", "--checkpoint-upper-bound", "200"]
    assert main([*argv, "--output", str(out)]) == 0
    assert torch.allclose(load_checkpoint_file(str(out))["model"]["w"], torch.full((2,), 2.0))
    files = [str(tmp_path / "checkpoint_1_100.pt"), str(tmp_path / "checkpoint_1_300.pt")]
    assert main(["--inputs", *files, "--output", str(out)]) == 0
    assert torch.allclose(load_checkpoint_file(str(out))["model"]["w"], torch.full((2,), 5.0))


def test_too_few_checkpoints_is_one_line(tmp_path, capsys):
    _write(tmp_path, "checkpoint1.pt", 1.0)
    code = main(
        ["--inputs", str(tmp_path), "--num-epoch-checkpoints", "2", "--output", str(tmp_path / "a.pt")]
    )
    assert code == 1
    assert "found 1 epoch checkpoints" in capsys.readouterr().err
    assert not (tmp_path / "a.pt").exists()
