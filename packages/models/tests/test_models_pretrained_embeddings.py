"""--encoder-embed-path/--decoder-embed-path: embeddings start from a text file of vectors."""

from __future__ import annotations

import pytest
import torch

from seqlab.core import ConfigError
from seqlab.core.dictionary import Dictionary

from .conftest import TinyTask, build

SMALL = {
    "encoder_layers": 1,
    "decoder_layers": 1,
    "encoder_embed_dim": 4,
    "encoder_ffn_embed_dim": 8,
    "encoder_attention_heads": 2,
    "decoder_embed_dim": 4,
    "decoder_ffn_embed_dim": 8,
    "decoder_attention_heads": 2,
}


def _dictionary(words: list[str]) -> Dictionary:
    d = Dictionary()
    for w in words:
        d.add_symbol(w)
    return d


@pytest.mark.parametrize("header", [True, False], ids=["word2vec", "glove"])
def test_known_words_start_from_their_vectors_and_the_others_stay_random(tmp_path, header):
    src, tgt = _dictionary(["cat", "dog", "emu"]), _dictionary(["katze", "hund"])
    lines = (["3 4"] if header else []) + ["cat 1 2 3 4", "zebra 9 9 9 9", "emu -1 -2 -3 -4"]
    (tmp_path / "src.vec").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (tmp_path / "tgt.vec").write_text("hund 0.5 0.25 0 1\n", encoding="utf-8")
    torch.manual_seed(0)
    plain = build("transformer", TinyTask(src, tgt), **SMALL)
    torch.manual_seed(0)
    model = build(
        "transformer",
        TinyTask(src, tgt),
        encoder_embed_path=str(tmp_path / "src.vec"),
        decoder_embed_path=str(tmp_path / "tgt.vec"),
        **SMALL,
    )
    enc, dec = model.encoder.embed_tokens.weight, model.decoder.embed_tokens.weight
    assert enc[src.index("cat")].tolist() == [1, 2, 3, 4]
    assert enc[src.index("emu")].tolist() == [-1, -2, -3, -4]
    assert dec[tgt.index("hund")].tolist() == [0.5, 0.25, 0, 1]
    # words the file lacks keep the initialisation they would have had
    assert torch.equal(enc[src.index("dog")], plain.encoder.embed_tokens.weight[src.index("dog")])
    assert torch.equal(dec[tgt.index("katze")], plain.decoder.embed_tokens.weight[tgt.index("katze")])


def test_the_lstm_reads_them_too_and_can_keep_them_frozen(tmp_path):
    d = _dictionary(["cat", "dog"])
    (tmp_path / "v.txt").write_text("dog 1 1 1 1\n", encoding="utf-8")
    model = build(
        "lstm",
        TinyTask(d),
        encoder_embed_dim=4,
        encoder_hidden_size=4,
        decoder_embed_dim=4,
        decoder_hidden_size=4,
        decoder_out_embed_dim=4,
        encoder_embed_path=str(tmp_path / "v.txt"),
        encoder_freeze_embed=True,
    )
    weight = model.encoder.embed_tokens.weight
    assert weight[d.index("dog")].tolist() == [1, 1, 1, 1] and not weight.requires_grad


def test_a_vector_of_another_size_or_a_missing_file_fails_in_one_line(tmp_path):
    d = _dictionary(["cat"])
    (tmp_path / "v.txt").write_text("cat 1 2 3 4\ncat 1 2 3\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"--encoder-embed-path .*v.txt, line 2: a vector of 3 numbers"):
        build("transformer", TinyTask(d), encoder_embed_path=str(tmp_path / "v.txt"), **SMALL)
    with pytest.raises(ConfigError, match="--decoder-embed-path: cannot read"):
        build("transformer", TinyTask(d), decoder_embed_path=str(tmp_path / "none.txt"), **SMALL)


def test_shared_embeddings_take_one_file(tmp_path):
    d = _dictionary(["cat"])
    (tmp_path / "v.txt").write_text("cat 1 2 3 4\n", encoding="utf-8")
    options = {"share_all_embeddings": True, **SMALL}
    model = build("transformer", TinyTask(d), encoder_embed_path=str(tmp_path / "v.txt"), **options)
    assert model.decoder.embed_tokens.weight[d.index("cat")].tolist() == [1, 2, 3, 4]
    with pytest.raises(ConfigError, match="give its file as --encoder-embed-path only"):
        build("transformer", TinyTask(d), decoder_embed_path=str(tmp_path / "v.txt"), **options)
