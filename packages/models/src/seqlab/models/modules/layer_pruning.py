"""``--encoder-layers-to-keep``/``--decoder-layers-to-keep``: a shallower model from a LayerDrop-trained one.

fairseq's options: the model is built with only the listed layers (``"0,2,4"``), and a
checkpoint of the full stack loads into it with those layers renumbered 0, 1, 2... and the
others dropped. The inference tools take them through ``--model-overrides``
(``"{'decoder_layers_to_keep': '0,2,4'}"``), since a checkpoint's weights are loaded there.
"""

from __future__ import annotations

import re
from typing import Any

from seqlab.core import ConfigError


def layers_to_keep(value: str | None, flag: str) -> list[int] | None:
    """The sorted layer indices of ``value`` (``"0,2,4"``), or None when not set."""
    if not value:
        return None
    try:
        keep = sorted({int(x) for x in str(value).split(",")})
    except ValueError:
        raise ConfigError(f"{flag} must list layer indices such as '0,2,4', not {value!r}") from None
    if keep[0] < 0:
        raise ConfigError(f"{flag} must list layer indices from 0, not {value!r}")
    return keep


def prune_layers(state: dict[str, Any], prefix: str, keep: list[int], flag: str) -> dict[str, Any]:
    """``state`` with only the layers ``keep`` under ``prefix`` (``"encoder.layers."``), renumbered from 0.

    A state that already holds ``len(keep)`` layers is taken for a pruned model's own checkpoint
    and returned as is; one with fewer layers, or without a listed layer, is an error.
    """
    pattern = re.compile(rf"^{re.escape(prefix)}(\d+)\.(.*)$")
    present = {int(m.group(1)) for key in state if (m := pattern.match(key))}
    if len(present) == len(keep):
        return state
    if len(present) < len(keep):
        raise ConfigError(
            f"{flag}: the checkpoint has {len(present)} layers, fewer than the {len(keep)} to keep"
        )
    missing = [i for i in keep if i not in present]
    if missing:
        raise ConfigError(f"{flag}: the checkpoint has {len(present)} layers, no layer {missing[0]}")
    pruned = {}
    for key, value in state.items():
        m = pattern.match(key)
        if m is None:
            pruned[key] = value
        elif int(m.group(1)) in keep:
            pruned[f"{prefix}{keep.index(int(m.group(1)))}.{m.group(2)}"] = value
    return pruned
