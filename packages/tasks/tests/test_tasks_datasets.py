"""Language-pair and language-model datasets: the mini-batches models and criterions consume."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from seqlab.core.dictionary import Dictionary
from seqlab.tasks.data import LanguagePairDataset, MonolingualDataset, TokenBlockDataset, block_slices


def _dict(n=20):
    d = Dictionary()
    for i in range(n):
        d.add_symbol(f"w{i}")
    return d


def _sentences(lengths, start=4):
    # every sentence ends with </s> (id 2), as the binarizer writes them
    out = []
    for k, n in enumerate(lengths):
        out.append(torch.tensor([start + (k + j) % 10 for j in range(n - 1)] + [2]))
    return out


def test_language_pair_batch_matches_fairseqs_contract():
    d = _dict()
    src = _sentences([3, 5, 2])
    tgt = _sentences([4, 2, 3], start=6)
    ds = LanguagePairDataset(src, np.array([3, 5, 2]), d, tgt, np.array([4, 2, 3]), d)
    batch = ds.collater([ds[0], ds[1], ds[2]])
    assert batch["id"].tolist() == [1, 0, 2]  # longest source first
    assert batch["nsentences"] == 3
    assert batch["ntokens"] == 9
    net = batch["net_input"]
    assert net["src_lengths"].tolist() == [5, 3, 2]
    assert net["src_tokens"][1].tolist() == [d.pad()] * 2 + src[0].tolist()  # left-padded source
    assert net["src_tokens"][0].tolist() == src[1].tolist()
    assert batch["target"][0].tolist() == tgt[1].tolist() + [d.pad()] * 2  # right-padded target
    # teacher forcing: </s> first, then the target shifted right
    assert net["prev_output_tokens"][1].tolist() == [2] + tgt[0].tolist()[:-1]
    assert net["prev_output_tokens"][0].tolist() == [2, tgt[1][0].item(), d.pad(), d.pad()]
    assert ds.collater([]) == {}


def test_padding_sides_follow_the_options():
    d = _dict()
    src, tgt = _sentences([2, 4]), _sentences([3, 1])
    ds = LanguagePairDataset(
        src, np.array([2, 4]), d, tgt, np.array([3, 1]), d, left_pad_source=False, left_pad_target=True
    )
    batch = ds.collater([ds[0], ds[1]])
    assert batch["net_input"]["src_tokens"][1].tolist() == src[0].tolist() + [d.pad()] * 2
    assert batch["target"][0].tolist() == [d.pad()] * 2 + tgt[1].tolist()


def test_source_only_batch_for_generation():
    d = _dict()
    ds = LanguagePairDataset(_sentences([3, 2]), np.array([3, 2]), d)
    batch = ds.collater([ds[0], ds[1]])
    assert batch["target"] is None
    assert "prev_output_tokens" not in batch["net_input"]
    assert batch["ntokens"] == 5


def test_pair_ordering_and_filtering():
    d = _dict()
    src_sizes, tgt_sizes = np.array([5, 1, 3, 3, 9]), np.array([2, 8, 1, 4, 3])
    ds = LanguagePairDataset(
        _sentences(src_sizes), src_sizes, d, _sentences(tgt_sizes), tgt_sizes, d, shuffle=False
    )
    order = ds.ordered_indices()
    assert src_sizes[order].tolist() == sorted(src_sizes.tolist())
    assert order.tolist()[1:3] == [2, 3]  # equal source lengths: shorter target first
    keep, ignored = ds.filter_indices_by_size(np.arange(5), (5, 4))
    assert keep.tolist() == [0, 2, 3] and ignored.tolist() == [1, 4]
    assert ds.num_tokens_vec(np.arange(5)).tolist() == [5, 8, 3, 4, 9]


@pytest.mark.parametrize(
    ("mode", "block", "expected"),
    [
        ("none", 4, [(0, 4), (4, 8), (8, 10)]),
        ("complete", 4, [(0, 3), (3, 5), (5, 10)]),
        ("complete", 5, [(0, 5), (5, 10)]),
        ("eos", 99, [(0, 3), (3, 5), (5, 10)]),
    ],
)
def test_block_slices(mode, block, expected):
    assert [tuple(r) for r in block_slices(np.array([3, 2, 5]), mode, block).tolist()] == expected


def test_complete_mode_packs_whole_sentences():
    slices = block_slices(np.array([2, 2, 2, 7, 1]), "complete", 5)
    assert [tuple(r) for r in slices.tolist()] == [(0, 4), (4, 6), (6, 13), (13, 14)]


def test_complete_doc_mode_keeps_blocks_inside_documents():
    # documents [3, 2] and [4]; then two separators in a row and a document [2]; one of [4, 4]
    slices = block_slices(np.array([3, 2, 1, 4, 1, 1, 2]), "complete_doc", 6)
    assert [tuple(r) for r in slices.tolist()] == [(0, 5), (6, 10), (12, 14)]
    slices = block_slices(np.array([4, 4, 1, 3]), "complete_doc", 6)
    assert [tuple(r) for r in slices.tolist()] == [(0, 4), (4, 8), (9, 12)]


def test_complete_doc_blocks_read_their_documents_tokens():
    sents = [torch.tensor([10, 11, 2]), torch.tensor([2]), torch.tensor([12, 13, 2])]
    blocks = TokenBlockDataset(
        sents, np.array([3, 1, 3]), block_size=8, pad=1, eos=2, break_mode="complete_doc"
    )
    assert [blocks[i][1].tolist() for i in range(len(blocks))] == [[10, 11, 2], [12, 13, 2]]
    assert blocks[1][0].tolist() == [2, 12, 13]  # the source starts with the separator's </s>


def test_token_blocks_give_next_token_targets_across_sentences():
    sents = [torch.tensor([10, 11, 2]), torch.tensor([12, 2]), torch.tensor([13, 14, 15, 2])]
    stream = torch.cat(sents).tolist()
    blocks = TokenBlockDataset(sents, np.array([3, 2, 4]), block_size=4, pad=1, eos=2, break_mode="none")
    assert len(blocks) == 3
    targets = [blocks[i][1].tolist() for i in range(3)]
    assert sum(targets, []) == stream
    for i in range(3):
        source, target = blocks[i]
        start = sum(len(t) for t in targets[:i])
        previous = stream[start - 1] if start else 2
        assert source.tolist() == [previous] + target.tolist()[:-1]


def test_language_model_batch():
    d = _dict()
    sents = [torch.tensor([5, 6, 7, 2]), torch.tensor([8, 2])]
    blocks = TokenBlockDataset(
        sents, np.array([4, 2]), block_size=10, pad=d.pad(), eos=d.eos(), break_mode="eos"
    )
    ds = MonolingualDataset(blocks, blocks.sizes, d, shuffle=False)
    batch = ds.collater([ds[0], ds[1]])
    assert batch["net_input"]["src_tokens"].tolist() == [[2, 5, 6, 7], [2, 8, d.pad(), d.pad()]]
    assert batch["target"].tolist() == [[5, 6, 7, 2], [8, 2, d.pad(), d.pad()]]
    assert batch["net_input"]["src_lengths"].tolist() == [4, 2]
    assert batch["ntokens"] == 6 and batch["nsentences"] == 2
    assert ds.ordered_indices().tolist() == [1, 0]


def test_add_bos_token_starts_source_and_target_with_bos_as_fairseq_does():
    d = _dict()
    sents = [torch.tensor([5, 6, 7, 2]), torch.tensor([8, 2])]
    blocks = TokenBlockDataset(
        sents, np.array([4, 2]), block_size=10, pad=d.pad(), eos=d.eos(), break_mode="eos"
    )
    ds = MonolingualDataset(blocks, blocks.sizes, d, shuffle=False, bos=d.bos())
    batch = ds.collater([ds[0], ds[1]])
    bos, pad = d.bos(), d.pad()
    assert batch["net_input"]["src_tokens"].tolist() == [[bos, 2, 5, 6, 7], [bos, 2, 8, pad, pad]]
    # fairseq's MonolingualDataset prepends <s> to the target too: the first position predicts it
    assert batch["target"].tolist() == [[bos, 5, 6, 7, 2], [bos, 8, 2, pad, pad]]
    assert batch["ntokens"] == 8


def test_shorten_truncate_keeps_the_start_of_long_sentences():
    from seqlab.tasks.data.shortened_dataset import maybe_shorten

    items = [torch.arange(10, 10 + n) for n in (3, 6, 4)]
    ds, sizes = maybe_shorten(items, np.array([3, 6, 4]), "train", "truncate", "", 4, 1)
    assert [ds[i].tolist() for i in range(3)] == [[10, 11, 12], [10, 11, 12, 13], [10, 11, 12, 13]]
    assert sizes.tolist() == [3, 4, 4]
    same, _ = maybe_shorten(items, np.array([3, 6, 4]), "valid", "truncate", "train", 4, 1)
    assert same is items  # only the listed splits are shortened


def test_shorten_random_crop_draws_fairseqs_windows_then_new_ones_each_epoch():
    from seqlab.tasks.data.shortened_dataset import maybe_shorten

    items = [torch.arange(100 * i, 100 * i + 6 + i) for i in range(6)]
    sentences, sizes = maybe_shorten(
        items, np.array([len(x) for x in items]), "train", "random_crop", "", 4, 7
    )
    blocks = TokenBlockDataset(sentences, sizes, block_size=4, pad=1, eos=2, break_mode="none")
    ds = MonolingualDataset(blocks, blocks.sizes, _dict(), shuffle=False)
    starts = {}
    for epoch in (1, 2, 1):
        ds.set_epoch(epoch)  # reaches the crops through the blocks
        starts[epoch] = [int(ds[i]["target"][0]) - 100 * i for i in range(6)]
    # epoch 1: the windows fairseq 0.12's RandomCropDataset draws with --seed 7 (it keeps them all run)
    assert starts[1] == [0, 0, 0, 0, 5, 5]
    assert starts[2] == [1, 2, 2, 1, 4, 2]
    assert all(len(ds[i]["target"]) == 4 for i in range(6))
