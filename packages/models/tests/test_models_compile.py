"""Under ``torch.compile`` (``seq-train --compile``) the transformers' forward is one graph, with
eager PyTorch's outputs: no data-dependent branch (padding checks, table sizes, the CPU dropout's
own mask) splits it.

``backend="eager"`` traces with dynamo and runs the traced graph without generating kernels, so
these tests check the tracing in seconds; ``fullgraph=True`` makes any graph break an error.
"""

from __future__ import annotations

import pytest
import torch

CASES = {
    "transformer": ("transformer", {}),
    "transformer-prenorm-learned": (
        "transformer_wmt_en_de_big_t2t",
        {"encoder_learned_pos": True, "decoder_learned_pos": True},
    ),
    "transformer_lm": ("transformer_lm", {}),
}
VOCAB = 40


def _model(kit, case: str) -> torch.nn.Module:
    arch, extra = CASES[case]
    tiny = kit.TINY_LM if arch == "transformer_lm" else kit.TINY_TRANSFORMER
    options = {**tiny, **extra, "dropout": 0.1, "attention_dropout": 0.1, "activation_dropout": 0.1}
    return kit.build(arch, kit.TinyTask(kit.TinyDictionary(VOCAB)), **options)


def _inputs(kit, gen, case: str) -> tuple[torch.Tensor, ...]:
    rows = [kit.random_tokens(1, n, VOCAB, gen)[0] for n in (6, 2, 9, 5)]
    if case == "transformer_lm":
        return (kit.pad_rows(rows, left=False),)
    source = kit.pad_rows(rows, left=True)
    lengths = source.ne(kit.PAD).sum(dim=1)
    target = kit.pad_rows([r[: max(1, len(r) - 1)] for r in rows], left=False)
    return source, lengths, target


@pytest.mark.parametrize("case", sorted(CASES))
def test_training_forward_and_backward_compile_as_one_graph(case, kit, gen):
    model = _model(kit, case).train()
    compiled = torch.compile(model, backend="eager", fullgraph=True)
    logits, _ = compiled(*_inputs(kit, gen, case))
    logits.float().sum().backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


@pytest.mark.parametrize("case", sorted(CASES))
def test_compiled_forward_gives_the_eager_outputs(case, kit, gen):
    model = _model(kit, case).eval()
    inputs = _inputs(kit, gen, case)
    with torch.no_grad():
        eager, _ = model(*inputs)
        compiled, _ = torch.compile(model, backend="eager", fullgraph=True)(*inputs)
    real = (inputs[-1] if case != "transformer_lm" else inputs[0]).ne(kit.PAD)
    # padded positions may differ: eager skips masks that hide nothing, compiled code always builds them
    torch.testing.assert_close(compiled[real], eager[real], atol=1e-5, rtol=1e-5)


def _layerdrop_transformer(kit, **drop: float) -> torch.nn.Module:
    options = {**kit.TINY_TRANSFORMER, "encoder_layers": 4, "decoder_layers": 4, "dropout": 0.0, **drop}
    return kit.build("transformer", kit.TinyTask(kit.TinyDictionary(VOCAB)), **options)


def test_layerdrop_models_compile_layer_by_layer_and_trace_one_graph_per_stack(kit, gen):
    from torch._dynamo.utils import counters

    from seqlab.core.compilation import compile_training_calls

    assert _layerdrop_transformer(kit).compile_units() is None  # no LayerDrop: the whole model
    model = _layerdrop_transformer(kit, encoder_layerdrop=0.5, decoder_layerdrop=0.5).train()
    assert model.compile_units() == [*model.encoder.layers, *model.decoder.layers]
    half = _layerdrop_transformer(kit, decoder_layerdrop=0.5)
    assert half.compile_units() == [half.encoder, *half.decoder.layers]
    lm = kit.build(
        "transformer_lm", kit.TinyTask(kit.TinyDictionary(VOCAB)), **kit.TINY_LM, decoder_layerdrop=0.5
    )
    assert lm.compile_units() == list(lm.decoder.layers)

    eager = _layerdrop_transformer(kit, encoder_layerdrop=0.5, decoder_layerdrop=0.5).train()
    eager.load_state_dict(model.state_dict())
    for unit in model.compile_units():
        compile_training_calls(unit, backend="eager")
    inputs = _inputs(kit, gen, "transformer")
    torch._dynamo.reset()
    counters.clear()
    for step in range(12):  # 12 draws of kept layers: whole-model compiling traced a graph for most
        torch.manual_seed(step)
        compiled_out, _ = model(*inputs)
        torch.manual_seed(step)
        eager_out, _ = eager(*inputs)
        torch.testing.assert_close(compiled_out, eager_out)
        compiled_out.sum().backward()
    assert counters["stats"]["unique_graphs"] == 2  # one per stack's layer class
    with torch.no_grad():  # evaluation and decoding stay eager: nothing more is traced
        model.eval()(*inputs)
    assert counters["stats"]["unique_graphs"] == 2
