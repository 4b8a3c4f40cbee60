"""``--encoder-embed-path``/``--decoder-embed-path``: token embeddings started from a text file of vectors.

The file holds one ``word v1 v2 ... vd`` line per word (GloVe's layout; word2vec's text
layout, whose first line is ``count dim``, works too). Each dictionary word found in the file
starts from its vector; the others keep their random initialisation. Only training reads the
file (a resumed run too, before its checkpoint's weights replace the vectors): a checkpoint
holds the trained embeddings, so the inference tools rebuild the model without the file.
"""

from __future__ import annotations

import logging
from typing import Any

import torch
from torch import nn

from seqlab.core import ConfigError

logger = logging.getLogger(__name__)


def load_pretrained(embedding: nn.Embedding, path: str, dictionary: Any, flag: str) -> int:
    """Copy the file's vectors into the rows of the dictionary's words; return how many rows were set."""
    dim = embedding.embedding_dim
    rows, vectors = [], []
    try:
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, start=1):
                fields = line.rstrip().split(" ")
                if number == 1 and len(fields) == 2 and all(x.isdigit() for x in fields):
                    continue  # word2vec's "count dim" header
                if len(fields) < 2:
                    continue
                if len(fields) - 1 != dim:
                    raise ConfigError(
                        f"{flag} {path}, line {number}: a vector of {len(fields) - 1} numbers, but the "
                        f"embeddings have {dim} dimensions; set the embedding dimension to {len(fields) - 1}"
                    )
                index = dictionary.index(fields[0])
                if index == dictionary.unk() and fields[0] != dictionary.unk_word:
                    continue  # not in the dictionary
                try:
                    vectors.append([float(x) for x in fields[1:]])
                except ValueError:
                    raise ConfigError(f"{flag} {path}, line {number}: not a vector of numbers") from None
                rows.append(index)
    except OSError as exc:
        raise ConfigError(f"{flag}: cannot read {path} ({exc.strerror})") from exc
    if rows:
        with torch.no_grad():
            embedding.weight[torch.tensor(rows)] = torch.tensor(vectors, dtype=embedding.weight.dtype)
    logger.info("%s: %d of the dictionary's %d symbols start from %s", flag, len(rows), len(dictionary), path)
    return len(rows)


def check_shared_paths(args: Any) -> None:
    """Shared embeddings can start from one file only."""
    enc, dec = getattr(args, "encoder_embed_path", None), getattr(args, "decoder_embed_path", None)
    if dec and dec != enc:
        raise ConfigError(
            "--share-all-embeddings shares one embedding table: give its file as --encoder-embed-path only"
        )
