"""Vocabulary bands for adaptive input and adaptive softmax (Baevski & Auli; Grave et al.).

Both split a frequency-sorted vocabulary at cutoffs such as ``20000,60000``: band 0 holds the
ids below the first cutoff, band i the ids from cutoff i-1 up to cutoff i, and the last band
ends at the vocabulary size. Band i works in ``dim // factor**i`` dimensions, so rare words
cost fewer parameters and less arithmetic.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from seqlab.core import ConfigError


def parse_cutoffs(value: str | list[int] | None, vocab_size: int, flag: str) -> list[int]:
    """The band ends: the cutoffs of ``value`` (``'20000,60000'``), then ``vocab_size`` unless it is the last one."""
    if value is None or value == "":
        raise ConfigError(f"{flag} needs the band cutoffs, e.g. {flag} 20000,60000")
    try:
        cutoffs = [int(v) for v in value.split(",")] if isinstance(value, str) else [int(v) for v in value]
    except ValueError:
        raise ConfigError(
            f"{flag} must list increasing word counts such as '20000,60000', not {value!r}"
        ) from None
    if not cutoffs or cutoffs[0] <= 0 or any(b <= a for a, b in zip(cutoffs, cutoffs[1:])):
        raise ConfigError(f"{flag} must list increasing word counts such as '20000,60000', not {value!r}")
    if cutoffs[-1] > vocab_size:
        raise ConfigError(
            f"{flag} {value} goes past the dictionary's {vocab_size} entries: "
            f"give cutoffs below {vocab_size} (the last band ends at the dictionary size)"
        )
    return cutoffs if cutoffs[-1] == vocab_size else [*cutoffs, vocab_size]


def band_dim(dim: int, factor: float, band: int) -> int:
    """The width of ``band``: ``dim // factor**band``, at least 1."""
    return max(1, int(dim // (factor**band)))


class TiedLinear(nn.Module):
    """A linear map without bias whose weight is another module's parameter (``transpose``: its transpose)."""

    def __init__(self, weight: nn.Parameter, transpose: bool) -> None:
        super().__init__()
        self.weight = weight
        self.transpose = transpose

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x @ W`` when transposed, else ``x @ W.T``."""
        return F.linear(x, self.weight.t() if self.transpose else self.weight)
