"""``--model-overrides``: options that replace a checkpoint's when its model is rebuilt (fairseq's flag).

The value is a JSON object, or a Python dict literal as fairseq users write it
(``"{'max_target_positions': 2048}"``). Only options the checkpoint recorded can be replaced;
the weights still come from the checkpoint, so an option that changes a weight's shape makes
loading fail.
"""

from __future__ import annotations

import ast
import json
from typing import Any

from seqlab.core import ConfigError
from seqlab.core.suggest import did_you_mean


def parse_model_overrides(text: str | None) -> dict[str, Any]:
    """The ``--model-overrides`` dict (empty without the flag)."""
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            raise ConfigError(
                f"--model-overrides must be a JSON object such as '{{\"max_target_positions\": 2048}}', not {text!r}"
            ) from None
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise ConfigError(f"--model-overrides must map option names to values, not {text!r}")
    return {k.replace("-", "_"): v for k, v in value.items()}


def apply_model_overrides(config: dict[str, Any], overrides: dict[str, Any], path: str) -> dict[str, Any]:
    """``config`` with ``overrides`` applied; an option the checkpoint does not record is an error."""
    for key in overrides:
        if key not in config:
            raise ConfigError(
                f"--model-overrides: checkpoint {path} records no option '{key}'{did_you_mean(key, list(config))}"
            )
    return {**config, **overrides}
