"""Dictionaries and sentencepiece models as plain data, for the ``task_state`` of checkpoints.

A checkpoint loads with ``torch.load(weights_only=True)``, which accepts lists, strings,
ints and bytes: a dictionary is stored as its symbols and counts, a sentencepiece model
as its serialized bytes.
"""

from __future__ import annotations

from typing import Any

from seqlab.core import SeqlabError
from seqlab.core.dictionary import Dictionary

from .sentencepiece_model import SentencePieceModel


def dictionary_state(d: Dictionary) -> dict[str, Any]:
    """A dictionary as plain data: every symbol with its count, and the special symbols."""
    return {
        "symbols": list(d.symbols),
        "counts": [int(c) for c in d.count],
        "nspecial": int(d.nspecial),
        "special": [d.bos_word, d.pad_word, d.eos_word, d.unk_word],
    }


def dictionary_from_state(state: dict[str, Any], where: str = "task_state") -> Dictionary:
    """Rebuild a dictionary from :func:`dictionary_state`'s output, ids unchanged."""
    try:
        symbols, counts, nspecial = list(state["symbols"]), list(state["counts"]), int(state["nspecial"])
        bos, pad, eos, unk = state["special"]
    except (KeyError, TypeError, ValueError) as exc:
        raise SeqlabError(
            f"{where}: the dictionary is not in seqlab's format ({exc}); re-save the checkpoint"
        ) from exc
    d = Dictionary(bos=bos, pad=pad, eos=eos, unk=unk, extra_special_symbols=symbols[4:nspecial])
    if d.symbols != symbols[:nspecial] or len(counts) != len(symbols):
        raise SeqlabError(f"{where}: the dictionary's special symbols or counts are inconsistent; re-save it")
    d.symbols, d.count = symbols, [int(c) for c in counts]
    # a later duplicate wins, as when a dict.txt line carries #fairseq:overwrite
    d.indices = {s: i for i, s in enumerate(symbols)}
    return d


def sentencepiece_state(model: SentencePieceModel | None) -> bytes | None:
    """A sentencepiece model as its serialized bytes (None when there is none)."""
    return None if model is None else bytes(model.proto)


def sentencepiece_from_state(proto: bytes | None) -> SentencePieceModel | None:
    """Load a sentencepiece model from :func:`sentencepiece_state`'s bytes."""
    return None if proto is None else SentencePieceModel(bytes(proto))
