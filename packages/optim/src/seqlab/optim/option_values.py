"""Read an optimizer's or schedule's options from the flat ``args`` namespace."""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

from seqlab.core import ConfigError
from seqlab.core.utils import eval_str_list

T = TypeVar("T")


def read_options(args: Any, dc: type[T]) -> T:
    """Return an instance of the option dataclass ``dc`` filled from ``args`` (its defaults where absent)."""
    values: dict[str, Any] = {}
    for f in dataclasses.fields(dc):  # type: ignore[arg-type]
        if hasattr(args, f.name):
            values[f.name] = getattr(args, f.name)
    return dc(**values)


def learning_rates(args: Any) -> list[float]:
    """Return the trainer's ``--lr`` as a list of floats (fairseq takes one value per epoch)."""
    raw = getattr(args, "lr", None)
    try:
        lrs = eval_str_list(raw, float)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"--lr {raw!r} is not a number or a comma-separated list of numbers") from exc
    if not lrs:
        raise ConfigError("--lr is required: give the learning rate, e.g. --lr 0.0005")
    return lrs


def single_learning_rate(args: Any, scheduler: str) -> float:
    """Return the one ``--lr`` value of a schedule that cannot take a per-epoch list."""
    lrs = learning_rates(args)
    if len(lrs) > 1:
        raise ConfigError(
            f"--lr-scheduler {scheduler} takes a single --lr, got {len(lrs)} values "
            f"({','.join(map(str, lrs))}); use --lr-scheduler fixed for one learning rate per epoch"
        )
    return lrs[0]


def float_tuple(value: Any, flag: str, length: int) -> tuple[float, ...]:
    """Read a fairseq-style tuple option such as ``--adam-betas '(0.9, 0.98)'`` into floats."""
    try:
        items = tuple(eval_str_list(value, float))
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{flag} {value!r} is not a tuple of numbers such as '(0.9, 0.98)'") from exc
    if len(items) != length:
        raise ConfigError(f"{flag} {value!r} must hold {length} numbers, got {len(items)}")
    return items
