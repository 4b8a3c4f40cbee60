"""What the GRU model does beyond the shared contract: padding never matters, attention ignores it,
sharing options check their dictionaries, and the decoder refuses tokens it has already decoded."""

import argparse

import pytest
import torch

import seqlab.models.gru  # noqa: F401  (registers the plugins when run from a source checkout)
from seqlab.core import ConfigError, SeqlabError, build_model
from seqlab.core.testing import DummyTask, dummy_dictionary, translation_batch


def build(task, **options):
    """The tiny preset, as seq-train builds it, with ``options`` typed on top."""
    torch.manual_seed(0)
    args = argparse.Namespace(arch="gru_tiny", **options)
    seqlab.models.gru.gru_tiny(args)
    return build_model(args, task).eval()


def test_a_sentence_gets_the_same_output_alone_and_padded_in_a_batch_on_either_side():
    task = DummyTask()
    model = build(task)
    batch = translation_batch(task.source_dictionary, task.target_dictionary, lengths=[(3, 4), (7, 4)])
    net_input = batch["net_input"]
    src, prev = net_input["src_tokens"], net_input["prev_output_tokens"]
    pad = task.source_dictionary.pad()
    alone = src[0][src[0].ne(pad)].unsqueeze(0)
    right_padded = torch.full_like(src, pad)
    right_padded[0, :3], right_padded[1] = alone[0], src[1]
    with torch.no_grad():
        want = model(alone, torch.tensor([3]), prev[:1])[0]
        left = model(src, net_input["src_lengths"], prev)[0][:1]
        right = model(right_padded, net_input["src_lengths"], prev)[0][:1]
    torch.testing.assert_close(left, want, atol=1e-5, rtol=0)
    torch.testing.assert_close(right, want, atol=1e-5, rtol=0)


def test_attention_weights_sum_to_one_and_skip_padding():
    task = DummyTask()
    model = build(task)
    batch = translation_batch(task.source_dictionary, task.target_dictionary, lengths=[(2, 5), (6, 5)])
    with torch.no_grad():
        _, extra = model(**batch["net_input"], need_attn=True)
    (attn,) = extra["attn"]
    assert attn.shape == (2, 5, 6)
    torch.testing.assert_close(attn.sum(-1), torch.ones(2, 5))
    assert torch.all(attn[0, :, :4] == 0)  # the short sentence is padded on the left


def test_sharing_all_embeddings_needs_one_dictionary():
    with pytest.raises(ConfigError, match="--joined-dictionary"):
        build(DummyTask(), share_all_embeddings=True)
    d = dummy_dictionary(20)
    model = build(DummyTask(source_dictionary=d, target_dictionary=d), share_all_embeddings=True)
    assert model.encoder.embed_tokens is model.decoder.embed_tokens
    assert model.decoder.output_projection is None


def test_the_decoder_refuses_tokens_it_has_already_decoded():
    task = DummyTask()
    model = build(task)
    batch = translation_batch(task.source_dictionary, task.target_dictionary, lengths=[(4, 3)])
    state: dict = {}
    prev = batch["net_input"]["prev_output_tokens"]
    with torch.no_grad():
        encoder_out = model.encoder(batch["net_input"]["src_tokens"])
        model.decoder(prev, encoder_out=encoder_out, incremental_state=state)
        with pytest.raises(SeqlabError, match="has already decoded 3"):
            model.decoder(prev[:, :2], encoder_out=encoder_out, incremental_state=state)
