"""Adaptive softmax (Grave et al., 2017; fairseq's ``--adaptive-softmax-cutoff``).

The head scores the first band's words and one "cluster" entry per further band; band i's
words are scored by a tail (a projection to ``dim // factor**i`` dimensions, dropout, then an
output layer) only where needed. ``log p(w) = log p_head(cluster of w) + log p_tail(w)`` for a
word in a tail, ``log p_head(w)`` in the head. Training with ``--criterion adaptive_loss``
runs each tail only on the positions whose target lies in its band; the inference tools call
:meth:`AdaptiveSoftmax.get_log_prob`, which gives the whole distribution.

With an :class:`~.adaptive_input.AdaptiveInput` given (``--tie-adaptive-weights``), the head's
word scores and every tail's output layer reuse its embedding tables, and with ``tie_proj``
(``--tie-adaptive-proj``) the tails' projections reuse its projections, transposed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from seqlab.core import ConfigError

from .adaptive_bands import TiedLinear, band_dim, parse_cutoffs
from .adaptive_input import AdaptiveInput
from .dropout import dropout


@dataclass
class AdaptiveSoftmaxOptions:
    """The adaptive softmax's flags, shared by the models whose decoder offers it."""

    adaptive_softmax_cutoff: str | None = field(
        default=None,
        metadata={
            "help": "adaptive softmax: split the output vocabulary at these word counts (e.g. '20000,60000')"
        },
    )
    adaptive_softmax_dropout: float = field(
        default=0.0,
        metadata={"help": "dropout probability on the adaptive softmax's input and inside its tails"},
    )
    adaptive_softmax_factor: float = field(
        default=4.0, metadata={"help": "each further adaptive softmax band is this many times narrower"}
    )


class _TiedHead(nn.Module):
    """Head scores from the first input band's table (words) and a linear map of its own (clusters)."""

    def __init__(self, table: nn.Parameter, input_dim: int, clusters: int) -> None:
        super().__init__()
        words: nn.Module = TiedLinear(table, transpose=False)
        if table.size(1) != input_dim:
            down = nn.Linear(input_dim, table.size(1), bias=False)
            nn.init.xavier_uniform_(down.weight)
            words = nn.Sequential(down, words)
        self.words = words
        self.clusters = nn.Linear(input_dim, clusters, bias=False)
        nn.init.xavier_uniform_(self.clusters.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Word scores, then cluster scores."""
        return torch.cat([self.words(x), self.clusters(x)], dim=-1)


class _Tail(nn.Module):
    """One band's scores: projection down, dropout, output layer."""

    def __init__(self, projection: nn.Module, output: nn.Module, p: float) -> None:
        super().__init__()
        self.projection = projection
        self.output = output
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Scores over the band's words."""
        return self.output(dropout(self.projection(x), self.p, self.training))


class AdaptiveSoftmax(nn.Module):
    """Log-probabilities over a frequency-sorted vocabulary split into bands at ``cutoffs``."""

    def __init__(
        self,
        vocab_size: int,
        input_dim: int,
        cutoffs: list[int],
        dropout: float = 0.0,
        factor: float = 4.0,
        adaptive_input: AdaptiveInput | None = None,
        tie_proj: bool = False,
    ) -> None:
        super().__init__()
        if cutoffs[-1] != vocab_size or len(cutoffs) < 2:
            raise ValueError(
                f"cutoffs {cutoffs} must end at the vocabulary size {vocab_size} after one cutoff"
            )
        self.vocab_size = vocab_size
        self.cutoffs = list(cutoffs)
        self.dropout = dropout
        tails = len(cutoffs) - 1
        if adaptive_input is not None:
            self.head: nn.Module = _TiedHead(adaptive_input.weights_for_band(0)[0], input_dim, tails)
        else:
            self.head = nn.Linear(input_dim, cutoffs[0] + tails, bias=False)
            nn.init.xavier_uniform_(self.head.weight)
        self.tails = nn.ModuleList()
        for i in range(tails):
            size = cutoffs[i + 1] - cutoffs[i]
            if adaptive_input is not None:
                table, projection_weight = adaptive_input.weights_for_band(i + 1)
                if tie_proj:
                    projection: nn.Module = TiedLinear(projection_weight, transpose=True)
                else:
                    projection = nn.Linear(input_dim, projection_weight.size(1), bias=False)
                    nn.init.xavier_uniform_(projection.weight)
                output: nn.Module = TiedLinear(table, transpose=False)
            else:
                dim = band_dim(input_dim, factor, i + 1)
                projection = nn.Linear(input_dim, dim, bias=False)
                output = nn.Linear(dim, size, bias=False)
                nn.init.xavier_uniform_(projection.weight)
                nn.init.xavier_uniform_(output.weight)
            self.tails.append(_Tail(projection, output, dropout))

    def adapt_target(self, target: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """``([head targets, tail 1's targets, ...], [rows of tail 1, ...])`` for flat ``target``.

        A word of band i becomes band i's cluster entry in the head, and its index within the
        band in tail i; a tail's rows are the positions whose target lies in its band.
        """
        target = target.reshape(-1)
        head = target.clone()
        targets, rows = [head], []
        c0 = self.cutoffs[0]
        for i in range(len(self.tails)):
            start, end = self.cutoffs[i], self.cutoffs[i + 1]
            in_band = (target >= start) & (target < end)
            head.masked_fill_(in_band, c0 + i)
            band_rows = in_band.nonzero().squeeze(1)
            rows.append(band_rows)
            targets.append(target.index_select(0, band_rows) - start)
        return targets, rows

    def forward(
        self, features: torch.Tensor, target: torch.Tensor
    ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """``(scores, targets)``: the head's scores for every position, then each tail's for its rows.

        ``F.cross_entropy`` of each pair, summed, is the negative log-likelihood of ``target``.
        A tail with no rows still runs (on none), so that every parameter gets a gradient.
        """
        x = dropout(features.reshape(-1, features.size(-1)), self.dropout, self.training)
        targets, rows = self.adapt_target(target)
        scores = [self.head(x)]
        scores += [tail(x.index_select(0, r)) for tail, r in zip(self.tails, rows)]
        return scores, targets

    def get_log_prob(self, features: torch.Tensor, target: torch.Tensor | None = None) -> torch.Tensor:
        """Log-probabilities over the whole vocabulary (fp32), shaped ``features.shape[:-1] + (V,)``.

        ``target`` is accepted for fairseq's callers; every position gets its whole distribution.
        """
        x = dropout(features.reshape(-1, features.size(-1)), self.dropout, self.training)
        head = F.log_softmax(self.head(x), dim=-1, dtype=torch.float32)
        c0 = self.cutoffs[0]
        parts = [head[:, :c0]]
        for i, tail in enumerate(self.tails):
            prior = head[:, c0 + i : c0 + i + 1]
            parts.append(F.log_softmax(tail(x), dim=-1, dtype=torch.float32) + prior)
        return torch.cat(parts, dim=1).view(*features.shape[:-1], self.vocab_size)


def build_adaptive_softmax(
    args: Any, dictionary: Any, input_dim: int, embed_tokens: nn.Module
) -> AdaptiveSoftmax | None:
    """The decoder's ``--adaptive-softmax-cutoff`` output layer (None without that flag), tied as the flags say."""
    tie = bool(getattr(args, "tie_adaptive_weights", False))
    value = getattr(args, "adaptive_softmax_cutoff", None)
    if value is None or value == "":
        if tie:
            raise ConfigError(
                "--tie-adaptive-weights ties the adaptive softmax: set --adaptive-softmax-cutoff too"
            )
        return None
    if getattr(args, "share_decoder_input_output_embed", False):
        raise ConfigError(
            "--adaptive-softmax-cutoff replaces the output projection that --share-decoder-input-output-embed "
            "(or --share-all-embeddings) would tie: drop the sharing flag (with --adaptive-input, "
            "--tie-adaptive-weights ties the bands instead)"
        )
    cutoffs = parse_cutoffs(value, len(dictionary), "--adaptive-softmax-cutoff")
    if len(cutoffs) < 2:
        raise ConfigError(
            f"--adaptive-softmax-cutoff {value} leaves no tail: give a cutoff below {len(dictionary)}"
        )
    factor = float(getattr(args, "adaptive_softmax_factor", 4.0))
    if factor < 1:
        raise ConfigError(f"--adaptive-softmax-factor must be at least 1, not {factor:g}")
    adaptive_input = None
    if tie:
        if not isinstance(embed_tokens, AdaptiveInput):
            raise ConfigError(
                "--tie-adaptive-weights ties the softmax to the input bands: set --adaptive-input too"
            )
        if embed_tokens.cutoffs != cutoffs:
            raise ConfigError(
                "--tie-adaptive-weights needs the same bands in and out: give --adaptive-input-cutoff "
                "and --adaptive-softmax-cutoff the same value"
            )
        if float(getattr(args, "adaptive_input_factor", 4.0)) != factor:
            raise ConfigError(
                "--tie-adaptive-weights needs the same band widths in and out: give --adaptive-input-factor "
                "and --adaptive-softmax-factor the same value"
            )
        adaptive_input = embed_tokens
    elif getattr(args, "tie_adaptive_proj", False):
        raise ConfigError(
            "--tie-adaptive-proj ties the tails to the input bands: set --tie-adaptive-weights too"
        )
    return AdaptiveSoftmax(
        len(dictionary),
        input_dim,
        cutoffs,
        dropout=float(getattr(args, "adaptive_softmax_dropout", 0.0)),
        factor=factor,
        adaptive_input=adaptive_input,
        tie_proj=bool(getattr(args, "tie_adaptive_proj", False)),
    )
