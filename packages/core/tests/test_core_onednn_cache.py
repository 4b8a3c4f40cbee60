"""bf16/fp16 on a CPU asks oneDNN for a primitive cache large enough for an epoch's shapes, unless the user chose one."""

from __future__ import annotations

import argparse
import os

import pytest
import torch

from seqlab.core.onednn_cache import CAPACITY, ENV_NAMES, widen_primitive_cache
from seqlab.core.precision import Precision


@pytest.fixture
def no_capacity(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ENV_NAMES:
        monkeypatch.setenv(name, "unset")  # recorded first, so that what the test sets is undone
        monkeypatch.delenv(name)
    return monkeypatch


def _args(**flags: bool) -> argparse.Namespace:
    return argparse.Namespace(
        fp16=flags.get("fp16", False), bf16=flags.get("bf16", False), fp16_init_scale=128
    )


@pytest.mark.parametrize("flag", ["bf16", "fp16"])
def test_low_precision_training_on_a_cpu_widens_the_cache(no_capacity, flag) -> None:
    Precision(_args(**{flag: True}), torch.device("cpu"))
    assert os.environ[ENV_NAMES[0]] == str(CAPACITY)


@pytest.mark.parametrize(("flags", "device"), [({}, "cpu"), ({"bf16": True}, "cuda")], ids=["fp32", "cuda"])
def test_fp32_and_gpu_runs_leave_onednn_alone(no_capacity, flags, device) -> None:
    Precision(_args(**flags), torch.device(device))
    assert not any(name in os.environ for name in ENV_NAMES)


@pytest.mark.parametrize("name", ENV_NAMES)
def test_a_capacity_the_user_set_is_kept(no_capacity, name) -> None:
    no_capacity.setenv(name, "64")
    assert widen_primitive_cache() is False
    assert os.environ[name] == "64"
    assert (ENV_NAMES[0] in os.environ) == (name == ENV_NAMES[0])
