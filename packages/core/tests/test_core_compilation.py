"""``--compile``'s choice of what to compile: the whole model, or the parts a model names."""

from __future__ import annotations

import torch
from torch import nn

from seqlab.core import compilation


class _Parts(nn.Module):
    """A model that asks for its two layers to be compiled one by one (or, with None, as a whole)."""

    def __init__(self, by_parts: bool) -> None:
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(3, 3), nn.Linear(3, 3)])
        self.by_parts = by_parts

    def compile_units(self) -> list[nn.Module] | None:
        return list(self.layers) if self.by_parts else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers[1](self.layers[0](x))


def test_a_model_without_compile_units_is_compiled_whole(monkeypatch):
    model = _Parts(by_parts=False)
    calls: list = []
    monkeypatch.setattr(model, "compile", lambda: calls.append("whole"))
    compilation.compile_model(model, torch.device("cpu"))
    assert calls == ["whole"]


def test_the_parts_a_model_names_are_compiled_and_run_compiled_only_in_training(monkeypatch):
    model = _Parts(by_parts=True)
    wrapper = nn.Sequential(model)  # as DistributedDataParallel wraps it: the parts come from inside
    ran: list = []

    def fake_compile(fn, **options):
        def run(*args, **kwargs):
            ran.append(fn.__self__)
            return fn(*args, **kwargs)

        return run

    monkeypatch.setattr(torch, "compile", fake_compile)
    monkeypatch.setattr(wrapper, "compile", lambda: ran.append("whole"))
    compilation.compile_model(wrapper, torch.device("cpu"), model)
    x = torch.ones(2, 3)
    model.train()(x).sum().backward()
    assert ran == list(model.layers)  # each layer ran its compiled forward; the wrapper was left alone
    ran.clear()
    with torch.no_grad():
        model(x)
    model.eval()(x)
    assert ran == []  # evaluation and passes without gradients (decoding) run eagerly
