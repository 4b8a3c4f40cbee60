"""Progress output: a tqdm bar on a terminal, log lines otherwise, JSON lines, TensorBoard events."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable, Iterator
from numbers import Number
from typing import Any

logger = logging.getLogger("seqlab.progress")

FORMATS = ("simple", "json", "tqdm", "none")


def setup_logging(log_file: str | None = None, is_master: bool = True) -> None:
    """Log to stdout (rank 0 only) and optionally to a file, in fairseq's line format."""
    root = logging.getLogger("seqlab")
    root.handlers.clear()
    root.setLevel(logging.INFO if is_master else logging.WARNING)
    root.propagate = False
    fmt = logging.Formatter("%(asctime)s | %(levelname)s | %(name)s | %(message)s", "%Y-%m-%d %H:%M:%S")
    out = logging.StreamHandler(sys.stdout)
    out.setFormatter(fmt)
    root.addHandler(out)
    if log_file and is_master:
        fh = logging.FileHandler(log_file)
        fh.setFormatter(fmt)
        root.addHandler(fh)


def default_format(requested: str | None) -> str:
    """The format to use: the requested one, else a bar on a terminal and log lines otherwise."""
    if requested:
        return requested
    return "tqdm" if sys.stderr.isatty() else "simple"


def format_stat(value: Any) -> str:
    """One statistic as printed: floats to 3 decimals, integers as they are."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, Number):
        value = float(value)
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return f"{value:.3g}" if abs(value) < 0.01 else f"{value:.3f}"  # small values (lr) keep their digits
    return str(value)


class Progress:
    """Wraps an epoch's iterator; ``log`` reports an interval, ``print`` an epoch or a validation."""

    def __init__(
        self,
        iterable: Iterable[Any],
        fmt: str,
        epoch: int | None = None,
        prefix: str = "",
        tensorboard_logdir: str | None = None,
        enabled: bool = True,
    ) -> None:
        self.iterable = iterable
        self.fmt = fmt if enabled else "none"
        self.epoch = epoch
        self.prefix = prefix if epoch is None else f"{prefix}epoch {epoch:03d}".strip()
        self._bar = None
        self._tb = _TensorBoard(tensorboard_logdir) if tensorboard_logdir and enabled else None

    def __iter__(self) -> Iterator[Any]:
        if self.fmt == "tqdm":
            from tqdm import tqdm

            total = len(self.iterable) if hasattr(self.iterable, "__len__") else None
            start = getattr(self.iterable, "n", 0)
            self._bar = tqdm(
                self.iterable,
                total=total,
                initial=start,
                desc=self.prefix,
                leave=False,
                file=sys.stderr,
                dynamic_ncols=True,
            )
            yield from self._bar
            self._bar.close()
        else:
            yield from self.iterable

    def log(self, stats: dict[str, Any], tag: str, step: int) -> None:
        """Report interval statistics (the bar's postfix, a log line or a JSON line)."""
        if self._tb:
            self._tb.write(stats, tag, step)
        if self.fmt == "tqdm" and self._bar is not None:
            self._bar.set_postfix({k: format_stat(v) for k, v in stats.items()}, refresh=False)
        elif self.fmt == "simple":
            logger.info("%s | %s", self.prefix, _join(stats))
        elif self.fmt == "json":
            self._json(stats, tag, step)

    def print(self, stats: dict[str, Any], tag: str, step: int) -> None:
        """Report end-of-epoch or validation statistics (every format but ``none`` prints a line)."""
        if self._tb:
            self._tb.write(stats, tag, step)
        if self.fmt == "json":
            self._json(stats, tag, step)
        elif self.fmt != "none":
            logger.info("%s | %s | %s", self.prefix, tag, _join(stats))

    def _json(self, stats: dict[str, Any], tag: str, step: int) -> None:
        record = {"tag": tag, "epoch": self.epoch, "num_updates": step}
        record.update({k: (round(float(v), 6) if isinstance(v, Number) else v) for k, v in stats.items()})
        print(json.dumps(record), flush=True)


def _join(stats: dict[str, Any]) -> str:
    return " | ".join(f"{k} {format_stat(v)}" for k, v in stats.items())


class _TensorBoard:
    def __init__(self, logdir: str) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as exc:
            from .errors import SeqlabError

            raise SeqlabError(
                "--tensorboard-logdir needs the tensorboard package: pip install tensorboard"
            ) from exc
        self.writers: dict[str, Any] = {}
        self.logdir = logdir
        self._writer_cls = SummaryWriter

    def write(self, stats: dict[str, Any], tag: str, step: int) -> None:
        writer = self.writers.get(tag)
        if writer is None:
            writer = self.writers[tag] = self._writer_cls(f"{self.logdir}/{tag}")
        for key, value in stats.items():
            if isinstance(value, Number) and not isinstance(value, bool):
                writer.add_scalar(key, float(value), step)
        writer.flush()
