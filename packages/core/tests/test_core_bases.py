"""The base classes keep fairseq's contract: shapes, delegation and helper behaviour."""

from __future__ import annotations

import argparse

import pytest
import torch

from seqlab.core import (
    Criterion,
    Decoder,
    Encoder,
    EncoderDecoderModel,
    IncrementalDecoder,
    LanguageModel,
    LRScheduler,
    Optimizer,
    Task,
)
from seqlab.core.utils import (
    convert_padding_direction,
    get_incremental_state,
    make_positions,
    set_incremental_state,
)

PAD = 1


class Dict:
    def __init__(self, n: int = 10) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def pad(self) -> int:
        return PAD


class SumEncoder(Encoder):
    def __init__(self, dictionary):
        super().__init__(dictionary)
        self.embed = torch.nn.Embedding(len(dictionary), 4, padding_idx=PAD)
        self.seen_lengths = None

    def forward(self, src_tokens, src_lengths=None, **kwargs):
        self.seen_lengths = src_lengths
        return {"encoder_out": self.embed(src_tokens).sum(1)}

    def reorder_encoder_out(self, encoder_out, new_order):
        return {"encoder_out": encoder_out["encoder_out"].index_select(0, new_order)}


class CountingDecoder(IncrementalDecoder):
    """Each step's feature is the number of steps decoded so far (kept in incremental state)."""

    def __init__(self, dictionary):
        super().__init__(dictionary)
        self.out = torch.nn.Linear(4, len(dictionary))

    def extract_features(self, prev_output_tokens, encoder_out=None, incremental_state=None, **kwargs):
        bsz, tgt_len = prev_output_tokens.shape
        ctx = encoder_out["encoder_out"].unsqueeze(1) if encoder_out else torch.zeros(bsz, 1, 4)
        if incremental_state is not None:
            state = get_incremental_state(self, incremental_state, "steps") or {"n": torch.zeros(bsz)}
            state = {"n": state["n"] + 1}
            set_incremental_state(self, incremental_state, "steps", state)
            return ctx + state["n"].view(bsz, 1, 1), {"attn": None}
        steps = torch.arange(1, tgt_len + 1, dtype=torch.float).view(1, tgt_len, 1)
        return ctx + steps, {"attn": None}

    def output_layer(self, features, **kwargs):
        return self.out(features)

    def reorder_incremental_state(self, incremental_state, new_order):
        state = get_incremental_state(self, incremental_state, "steps")
        if state is not None:
            set_incremental_state(self, incremental_state, "steps", {"n": state["n"][new_order]})


def test_encoder_decoder_forward_and_max_positions():
    d = Dict()
    model = EncoderDecoderModel(SumEncoder(d), CountingDecoder(d))
    src = torch.tensor([[4, 5, 2], [1, 6, 2]])
    lengths = torch.tensor([3, 2])
    prev = torch.tensor([[2, 4], [2, 5]])
    logits, extra = model(src, lengths, prev)
    assert logits.shape == (2, 2, 10) and extra == {"attn": None}
    assert model.encoder.seen_lengths is lengths
    assert model.max_positions() == (int(1e6), int(1e6))
    lprobs = model.get_normalized_probs((logits, extra), log_probs=True)
    assert torch.allclose(lprobs.exp().sum(-1), torch.ones(2, 2))


def test_incremental_decoding_matches_full_and_reorders():
    d = Dict()
    dec = CountingDecoder(d)
    enc_out = {"encoder_out": torch.randn(3, 4)}
    prev = torch.randint(2, 10, (3, 4))
    full, _ = dec(prev, encoder_out=enc_out)
    state: dict = {}
    steps = [dec(prev[:, : t + 1], encoder_out=enc_out, incremental_state=state)[0] for t in range(4)]
    # float32 tolerances: the output layer's matmul may round differently for one step and four
    torch.testing.assert_close(torch.cat(steps, 1), full)
    assert torch.equal(get_incremental_state(dec, state, "steps")["n"], torch.full((3,), 4.0))
    set_incremental_state(dec, state, "steps", {"n": torch.tensor([1.0, 2.0, 3.0])})
    dec.reorder_incremental_state(state, torch.tensor([2, 0, 1]))
    assert torch.equal(get_incremental_state(dec, state, "steps")["n"], torch.tensor([3.0, 1.0, 2.0]))


class StackDecoder(IncrementalDecoder):
    """Two counting layers whose caches the base class's reorder reaches through the module tree."""

    def __init__(self, dictionary):
        super().__init__(dictionary)
        self.layers = torch.nn.ModuleList([CountingDecoder(dictionary), CountingDecoder(dictionary)])
        self.walks = 0

    def modules(self):
        self.walks += 1
        return super().modules()


def _steps(layer, state):
    return get_incremental_state(layer, state, "steps")["n"]


def test_base_reorder_reaches_every_cached_submodule_walking_the_tree_once_per_decode():
    d = Dict()
    dec = StackDecoder(d)
    state: dict = {}
    for layer in dec.layers:
        set_incremental_state(layer, state, "steps", {"n": torch.tensor([1.0, 2.0, 3.0])})
    dec.reorder_incremental_state(state, torch.tensor([2, 0, 1]))
    dec.reorder_incremental_state(state, torch.tensor([2, 0, 1]))
    assert [_steps(layer, state).tolist() for layer in dec.layers] == [[2.0, 3.0, 1.0]] * 2
    assert dec.walks == 1
    # a new decode starts from a new state dict: a layer added since is found
    dec.layers.append(CountingDecoder(d))
    fresh: dict = {}
    for layer in dec.layers:
        set_incremental_state(layer, fresh, "steps", {"n": torch.tensor([1.0, 2.0])})
    dec.reorder_incremental_state(fresh, torch.tensor([1, 0]))
    assert [_steps(layer, fresh).tolist() for layer in dec.layers] == [[2.0, 1.0]] * 3
    assert dec.walks == 2


def test_base_merge_reaches_every_cached_submodule_and_names_one_that_cannot_merge():
    d = Dict()
    dec = StackDecoder(d)

    def merge(layer):
        def merge_incremental_state(state, other):
            joined = torch.cat([_steps(layer, state), _steps(layer, other)])
            set_incremental_state(layer, state, "steps", {"n": joined})

        return merge_incremental_state

    first: dict = {}
    second: dict = {}
    for layer in dec.layers:
        set_incremental_state(layer, first, "steps", {"n": torch.tensor([1.0, 2.0])})
        set_incremental_state(layer, second, "steps", {"n": torch.tensor([3.0])})
    with pytest.raises(TypeError, match="CountingDecoder keeps decoding state but cannot merge it"):
        dec.merge_incremental_state(first, second)
    for layer in dec.layers:
        layer.merge_incremental_state = merge(layer)
        layer.supports_merged_decoding = True
    dec.merge_incremental_state(first, second)
    assert [_steps(layer, first).tolist() for layer in dec.layers] == [[1.0, 2.0, 3.0]] * 2


def test_incremental_state_keys_are_per_module():
    d = Dict()
    a, b = CountingDecoder(d), CountingDecoder(d)
    state: dict = {}
    set_incremental_state(a, state, "k", {"v": 1})
    set_incremental_state(b, state, "k", {"v": 2})
    assert get_incremental_state(a, state, "k") == {"v": 1}
    assert get_incremental_state(b, state, "k") == {"v": 2}
    assert get_incremental_state(a, None, "k") is None


def test_normalized_probs_from_bare_tensor_and_tuple():
    class Classifier(LanguageModel):
        pass

    dec = CountingDecoder(Dict())
    model = Classifier(dec)
    logits = torch.randn(2, 3, 10)
    assert torch.allclose(model.get_normalized_probs(logits, log_probs=False).sum(-1), torch.ones(2, 3))
    assert torch.allclose(
        model.get_normalized_probs((logits, {}), log_probs=True), torch.log_softmax(logits, -1), atol=1e-6
    )


def test_decoder_base_forward_is_extract_then_project():
    class Tiny(Decoder):
        def extract_features(self, prev_output_tokens, encoder_out=None, **kwargs):
            return prev_output_tokens.float().unsqueeze(-1), {"attn": None}

        def output_layer(self, features, **kwargs):
            return features * 2

    out, extra = Tiny(Dict())(torch.tensor([[1, 2]]))
    assert out.squeeze(-1).tolist() == [[2.0, 4.0]] and extra == {"attn": None}


def test_convert_padding_direction_both_ways():
    left = torch.tensor([[1, 1, 5, 6], [7, 8, 9, 3]])
    right = torch.tensor([[5, 6, 1, 1], [7, 8, 9, 3]])
    assert torch.equal(convert_padding_direction(left, PAD, left_to_right=True), right)
    assert torch.equal(convert_padding_direction(right, PAD, right_to_left=True), left)


def test_make_positions_skip_padding():
    tokens = torch.tensor([[1, 1, 5, 6], [7, 8, 9, 3]])
    assert make_positions(tokens, PAD).tolist() == [[1, 1, 2, 3], [2, 3, 4, 5]]


class SGDWrapper(Optimizer):
    def __init__(self, args, params):
        super().__init__(args)
        self._optimizer = torch.optim.SGD(params, lr=args.lr)

    @property
    def optimizer_config(self):
        return {"lr": self.args.lr}


def _optimizer():
    w = torch.nn.Parameter(torch.tensor([3.0, 4.0]))
    opt = SGDWrapper(argparse.Namespace(lr=0.5), [w])
    (w * torch.tensor([3.0, 4.0])).sum().backward()  # grad = [3, 4], norm 5
    return w, opt


def test_optimizer_wrapper_grads_lr_and_step():
    w, opt = _optimizer()
    opt.multiply_grads(2.0)
    assert w.grad.tolist() == [6.0, 8.0]
    norm = opt.clip_grad_norm(5.0)
    assert norm.item() == pytest.approx(10.0)
    assert w.grad.norm().item() == pytest.approx(5.0, rel=1e-5)
    opt.set_lr(0.1)
    assert opt.get_lr() == 0.1
    opt.step(scale=5.0)  # gradient divided by the scale first
    assert torch.allclose(w.detach(), torch.tensor([3.0 - 0.1 * 0.6, 4.0 - 0.1 * 0.8]))
    opt.zero_grad()
    assert w.grad is None
    state = opt.state_dict()
    opt.load_state_dict(state, {"lr": 0.7})
    assert opt.get_lr() == 0.7


def test_clip_grad_norm_zero_only_measures():
    w, opt = _optimizer()
    assert opt.clip_grad_norm(0).item() == pytest.approx(5.0)
    assert w.grad.tolist() == [3.0, 4.0]


def test_lr_scheduler_base_tracks_best_and_round_trips():
    _, opt = _optimizer()
    sched = LRScheduler(argparse.Namespace(), opt)
    sched.step(1, val_loss=3.0)
    sched.step(2, val_loss=4.0)
    assert sched.best == 3.0 and sched.step_update(10) == opt.get_lr()
    other = LRScheduler(argparse.Namespace(), opt)
    other.load_state_dict(sched.state_dict())
    assert other.best == 3.0
    with pytest.raises(ValueError):
        LRScheduler(argparse.Namespace(), object())


def test_criterion_build_takes_init_args_by_name():
    class Weighted(Criterion):
        def __init__(self, task, weight, sentence_avg=False):
            super().__init__(task)
            self.weight, self.sentence_avg = weight, sentence_avg

    class T(Task):
        @property
        def target_dictionary(self):
            return Dict()

    task = T(argparse.Namespace())
    crit = Weighted.build_criterion(argparse.Namespace(weight=0.3, sentence_avg=True), task)
    assert (crit.weight, crit.sentence_avg, crit.padding_idx, crit.task) == (0.3, True, PAD, task)


def test_task_train_and_valid_step_call_criterion_and_backward():
    class SquareLoss(Criterion):
        def forward(self, model, sample, reduce=True):
            out = model(sample["x"])
            loss = (out**2).sum()
            return loss, sample["x"].size(0), {"loss": loss.detach(), "sample_size": sample["x"].size(0)}

    model = torch.nn.Linear(2, 1)
    model.set_num_updates = lambda n: setattr(model, "updates", n)
    task = Task(argparse.Namespace())
    opt = SGDWrapper(argparse.Namespace(lr=0.1), model.parameters())
    sample = {"x": torch.ones(3, 2)}
    loss, size, log = task.train_step(sample, model, SquareLoss(task), opt, update_num=7)
    assert size == 3 and model.updates == 7 and model.weight.grad is not None and model.training
    opt.zero_grad()
    loss, size, log = task.valid_step(sample, model, SquareLoss(task))
    assert model.weight.grad is None and not model.training and not loss.requires_grad
    with pytest.raises(Exception, match="dataset split 'valid' is not loaded"):
        task.dataset("valid")
