"""fairseq's transformer weights in seqlab's layout, for ``seq-import-fairseq``.

The layers are the same; the attention projections are fused here (one ``in_proj`` for a
self-attention's query, key and value, one ``kv_proj`` for an encoder attention's key and
value), the feed-forward sits in an ``ffn`` sub-module, the adaptive softmax's parts have
names (``head.words``/``head.clusters``, ``tails.N.projection``/``tails.N.output``) where
fairseq numbers them, and fairseq's bookkeeping entries (``version``, ``_float_tensor``) carry
no weights. Older fairseq releases' names are read too: ``in_proj_weight``/``in_proj_bias``
(before 0.9, already fused), an encoder layer's ``layer_norms.0``/``layer_norms.1`` (before
0.7) and ``decoder.embed_out`` (the untied output projection before 0.10).
"""

from __future__ import annotations

import re
from typing import Any

import torch

from seqlab.core import SeqlabError

_SKIPPED = re.compile(r"(^|\.)(version|_float_tensor)$")
_PROJ = re.compile(
    r"^(?P<att>.*\.(?P<kind>self_attn|encoder_attn))\.(?P<p>[qkv])_proj\.(?P<what>weight|bias)$"
)
_OLD_FUSED = re.compile(r"^(?P<att>.*\.(?P<kind>self_attn|encoder_attn))\.in_proj_(?P<what>weight|bias)$")
_OLD_NORMS = re.compile(r"^(?P<layer>.*\.layers\.\d+)\.layer_norms\.(?P<i>[01])\.(?P<what>weight|bias)$")
_FFN = re.compile(r"^(?P<layer>.*\.layers\.\d+)\.(?P<fc>fc[12])\.(?P<what>weight|bias)$")
# the adaptive softmax's sub-modules: fairseq's Sequential indices and names, then seqlab's
_ADAPTIVE = [
    (re.compile(r"\.adaptive_softmax\.head\.word_proj\."), ".adaptive_softmax.head.words."),
    (re.compile(r"\.adaptive_softmax\.head\.class_proj\."), ".adaptive_softmax.head.clusters."),
    (re.compile(r"\.adaptive_softmax\.tail\.(\d+)\.0\."), r".adaptive_softmax.tails.\1.projection."),
    (re.compile(r"\.adaptive_softmax\.tail\.(\d+)\.2\."), r".adaptive_softmax.tails.\1.output."),
]


def transformer_from_fairseq(state: dict[str, torch.Tensor], args: Any) -> dict[str, torch.Tensor]:
    """Return ``state`` (a fairseq transformer's or transformer_lm's state dict) under seqlab's names."""
    out: dict[str, torch.Tensor] = {}
    parts: dict[tuple[str, str, str], dict[str, torch.Tensor]] = {}
    for key, value in state.items():
        if _SKIPPED.search(key):
            continue
        for pattern, name in _ADAPTIVE:
            key = pattern.sub(name, key)
        if m := _PROJ.match(key):
            parts.setdefault((m["att"], m["kind"], m["what"]), {})[m["p"]] = value
        elif m := _OLD_FUSED.match(key):
            q, k, v = value.chunk(3, dim=0)
            parts.setdefault((m["att"], m["kind"], m["what"]), {}).update(q=q, k=k, v=v)
        elif m := _OLD_NORMS.match(key):
            norm = "self_attn_layer_norm" if m["i"] == "0" else "final_layer_norm"
            out[f"{m['layer']}.{norm}.{m['what']}"] = value
        elif m := _FFN.match(key):
            out[f"{m['layer']}.ffn.{m['fc']}.{m['what']}"] = value
        elif key == "decoder.embed_out":
            out["decoder.output_projection.weight"] = value
        else:
            out[key] = value
    for (att, kind, what), qkv in parts.items():
        missing = [p for p in "qkv" if p not in qkv]
        if missing:
            raise SeqlabError(f"the fairseq weights have {att} without its {missing[0]}_proj.{what}")
        if kind == "self_attn":
            out[f"{att}.in_proj.{what}"] = torch.cat([qkv["q"], qkv["k"], qkv["v"]], dim=0)
        else:
            out[f"{att}.q_proj.{what}"] = qkv["q"]
            out[f"{att}.kv_proj.{what}"] = torch.cat([qkv["k"], qkv["v"]], dim=0)
    tied = getattr(args, "share_decoder_input_output_embed", False) or getattr(
        args, "share_all_embeddings", False
    )
    if tied and "decoder.output_projection.weight" not in out and "decoder.embed_tokens.weight" in out:
        # fairseq before 0.10 saved a tied output projection only as the embeddings
        out["decoder.output_projection.weight"] = out["decoder.embed_tokens.weight"]
    return out
