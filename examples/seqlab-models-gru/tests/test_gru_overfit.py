"""The GRU learns: it memorises a small reversal corpus, and greedy incremental decoding reproduces it."""

import argparse

import pytest
import torch

import seqlab.models.gru  # noqa: F401  (registers the plugins when run from a source checkout)
from seqlab.core import build_model
from seqlab.core.data import collate_tokens
from seqlab.core.testing import DummyTask, dummy_dictionary

STEPS = 150


def reversal_corpus(dictionary, lengths, seed=0):
    """Source sentences of random words and their reversals, as a translation mini-batch."""
    g = torch.Generator().manual_seed(seed)
    pad, eos = dictionary.pad(), dictionary.eos()
    words = [torch.randint(dictionary.nspecial, len(dictionary), (n,), generator=g) for n in lengths]
    sources = [torch.cat([w, torch.tensor([eos])]) for w in words]
    targets = [torch.cat([w.flip(0), torch.tensor([eos])]) for w in words]
    return {
        "src_tokens": collate_tokens(sources, pad, left_pad=True),
        "src_lengths": torch.tensor([len(s) for s in sources]),
        "prev_output_tokens": collate_tokens(targets, pad, eos, move_eos_to_beginning=True),
    }, collate_tokens(targets, pad)


def greedy(model, net_input, eos, max_len):
    """Decode greedily with the incremental cache; return B x max_len token ids."""
    encoder_out = model.encoder(net_input["src_tokens"], src_lengths=net_input["src_lengths"])
    tokens = torch.full((net_input["src_tokens"].size(0), 1), eos)
    state: dict = {}
    for _ in range(max_len):
        logits, _ = model.decoder(tokens, encoder_out=encoder_out, incremental_state=state)
        tokens = torch.cat([tokens, logits[:, -1].argmax(-1, keepdim=True)], dim=1)
    return tokens[:, 1:]


@pytest.fixture
def one_thread():
    """Tiny tensors train fastest on one thread: more only adds synchronisation, and on a busy
    machine spinning threads slow each step down by orders of magnitude."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_memorises_a_reversal_corpus_and_decodes_it_greedily(one_thread):
    dictionary = dummy_dictionary(16)
    net_input, target = reversal_corpus(dictionary, lengths=(3, 5, 4, 6, 2, 5, 3, 4))
    pad, eos = dictionary.pad(), dictionary.eos()
    torch.manual_seed(0)
    args = argparse.Namespace(arch="gru_tiny")
    seqlab.models.gru.gru_tiny(args)
    model = build_model(args, DummyTask(source_dictionary=dictionary, target_dictionary=dictionary))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.03)

    def loss():
        logits, _ = model(**net_input)
        return torch.nn.functional.cross_entropy(
            logits.reshape(-1, logits.size(-1)), target.reshape(-1), ignore_index=pad
        )

    first = loss().item()
    for _ in range(STEPS):
        optimizer.zero_grad()
        value = loss()
        value.backward()
        optimizer.step()
    assert first > 2.0  # about ln(16): a uniform guess
    assert value.item() < 0.05

    model.eval()
    with torch.no_grad():
        decoded = greedy(model, net_input, eos, target.size(1))
    real = target.ne(pad)
    assert torch.equal(decoded[real], target[real])
