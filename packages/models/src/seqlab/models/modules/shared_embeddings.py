"""fairseq's checks for ``--share-all-embeddings``, as errors that say how to fix them."""

from __future__ import annotations

from typing import Any

from seqlab.core import ConfigError


def check_share_all_embeddings(args: Any, src_dict: Any, tgt_dict: Any) -> None:
    """Raise unless source and target share one dictionary and one embedding size."""
    if src_dict is None or tgt_dict is None or not (src_dict is tgt_dict or src_dict == tgt_dict):
        raise ConfigError(
            "--share-all-embeddings needs one dictionary for source and target, but the task's differ; "
            "binarize with a joined dictionary (seq-preprocess --joined-dictionary) or drop the flag"
        )
    if args.encoder_embed_dim != args.decoder_embed_dim:
        raise ConfigError(
            f"--share-all-embeddings needs --encoder-embed-dim ({args.encoder_embed_dim}) to equal "
            f"--decoder-embed-dim ({args.decoder_embed_dim}); set them equal or drop the flag"
        )
