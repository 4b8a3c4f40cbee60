"""Reading a fairseq checkpoint: its weights and its options, without running its pickled code.

fairseq 0.10 to 0.12 save their options as ``cfg`` (a dict of sections; a run started from
the command line keeps every flag in ``cfg["model"]`` as an ``argparse.Namespace``), older
releases as ``args`` (a Namespace). A Namespace only sets attributes when unpickled, so it is
the one class let through ``torch.load(weights_only=True)``; anything else is refused.
"""

from __future__ import annotations

import argparse
import os
import pickle
from dataclasses import dataclass
from typing import Any

import torch

from seqlab.core.checkpoint_io import blocked_global, first_sentence
from seqlab.core.errors import SeqlabError

#: fairseq options that change what a model computes (or what a language model is fed) and that
#: seqlab does not have; a checkpoint using any of them would load and compute something else
UNSUPPORTED_MODEL_OPTIONS = {
    "cross_self_attention": "--cross-self-attention",
    "no_cross_attention": "--no-cross-attention",
    "character_embeddings": "--character-embeddings",
    "base_layers": "--base-layers",
    "scale_fc": "--scale-fc (NormFormer)",
    "scale_attn": "--scale-attn (NormFormer)",
    "scale_heads": "--scale-heads (NormFormer)",
    "scale_resids": "--scale-resids (NormFormer)",
    "encoder_xformers_att_config": "--encoder-xformers-att-config",
    "decoder_xformers_att_config": "--decoder-xformers-att-config",
    "moe_freq": "mixture of experts",
    "self_target": "--self-target",
    "past_target": "--past-target",
}

#: the sections of a ``cfg`` that hold model, task and criterion options; later ones win
_SECTIONS = ("common", "dataset", "checkpoint", "optimization", "criterion", "task", "model")


@dataclass
class FairseqCheckpoint:
    """What a fairseq checkpoint holds that seqlab can use."""

    path: str
    options: dict[str, Any]
    task: str
    arch: str
    criterion: str | None
    model: dict[str, torch.Tensor]
    ema: dict[str, torch.Tensor] | None
    num_updates: int
    epoch: int


def read_fairseq_checkpoint(path: str) -> FairseqCheckpoint:
    """Load ``path`` as plain data (plus argparse Namespaces) and collect its options and weights."""
    if not os.path.isfile(path):
        raise SeqlabError(f"fairseq checkpoint {path} does not exist; check the path")
    try:
        with torch.serialization.safe_globals([argparse.Namespace]):
            state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise SeqlabError(
            f"fairseq checkpoint {path} holds objects that are not plain data ({blocked_global(exc)}); "
            "refusing to unpickle them. Re-save it from fairseq with only its 'model' and 'cfg' entries"
        ) from exc
    except Exception as exc:  # torch.load fails on arbitrary bytes with many types
        raise SeqlabError(f"{path} is not a readable checkpoint ({first_sentence(exc)})") from exc
    if not isinstance(state, dict) or not isinstance(state.get("model"), dict):
        raise SeqlabError(f"{path} is not a fairseq checkpoint: it has no 'model' state dict")
    if "format_version" in state:
        raise SeqlabError(f"{path} is already a seqlab checkpoint; use it as it is")
    options, names = _options(state, path)
    extra = state.get("extra_state") or {}
    history = state.get("optimizer_history") or [{}]
    iterator = extra.get("train_iterator") or {}
    ema = extra.get("ema")
    return FairseqCheckpoint(
        path=path,
        options=options,
        task=names["task"],
        arch=names["arch"],
        criterion=names.get("criterion"),
        model=state["model"],
        ema=ema if isinstance(ema, dict) and ema else None,
        num_updates=int(history[-1].get("num_updates", 0) or 0),
        epoch=int(iterator.get("epoch", 1) or 1),
    )


def _as_dict(section: Any) -> dict[str, Any]:
    if isinstance(section, argparse.Namespace):
        return dict(vars(section))
    return dict(section) if isinstance(section, dict) else {}


def _options(state: dict[str, Any], path: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The flat options of a checkpoint and the names of its task, arch and criterion."""
    cfg, args = state.get("cfg"), state.get("args")
    flat: dict[str, Any] = {}
    names: dict[str, str] = {}
    if isinstance(cfg, dict) and cfg.get("model") is not None:
        for section in _SECTIONS:
            values = _as_dict(cfg.get(section))
            if "_name" in values:
                names[section] = str(values.pop("_name"))
            flat.update(values)
        if "model" in names:
            names["arch"] = names.pop("model")
        if isinstance(flat.get("arch"), str):  # a run from the command line: its preset, not the model's name
            names["arch"] = flat["arch"]
    elif args is not None:
        flat = _as_dict(args)
    else:
        raise SeqlabError(f"fairseq checkpoint {path} records no options ('cfg' or 'args')")
    for key in ("task", "arch", "criterion"):
        if isinstance(flat.get(key), str):
            names.setdefault(key, flat[key])
    for key in ("task", "arch"):
        if not names.get(key):
            raise SeqlabError(f"fairseq checkpoint {path} does not say which {key} it was trained with")
    for key, flag in UNSUPPORTED_MODEL_OPTIONS.items():
        if flat.get(key):
            raise SeqlabError(
                f"fairseq checkpoint {path} uses {flag}, which seqlab's models do not provide; "
                "it cannot be imported"
            )
    return flat, names
