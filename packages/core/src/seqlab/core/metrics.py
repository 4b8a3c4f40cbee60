"""Aggregated training statistics in fairseq's style (``log_scalar``, ``log_derived``)."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any

from .utils import item


class AverageMeter:
    """A weighted running average."""

    def __init__(self, round: int | None = None) -> None:
        self.round = round
        self.reset()

    def reset(self) -> None:
        """Start again from nothing."""
        self.sum = 0.0
        self.count = 0.0

    def update(self, value: Any, weight: Any = 1) -> None:
        """Add ``value`` with ``weight``."""
        self.sum += item(value) * item(weight)
        self.count += item(weight)

    @property
    def avg(self) -> float:
        """The weighted average (0 when empty)."""
        return self.sum / self.count if self.count > 0 else 0.0

    @property
    def smoothed_value(self) -> float:
        """The average, rounded as requested."""
        return _round(self.avg, self.round)


class SumMeter:
    """A running sum."""

    def __init__(self, round: int | None = None) -> None:
        self.round = round
        self.sum = 0.0

    def reset(self) -> None:
        """Start again from zero."""
        self.sum = 0.0

    def update(self, value: Any) -> None:
        """Add ``value``."""
        self.sum += item(value)

    @property
    def smoothed_value(self) -> float:
        """The sum, rounded as requested."""
        return _round(self.sum, self.round)


class TimeMeter:
    """Counts per second since the meter started (``wps``, ``ups``)."""

    def __init__(self, round: int | None = None) -> None:
        self.round = round
        self.reset()

    def reset(self) -> None:
        """Restart the clock."""
        self.start = time.perf_counter()
        self.n = 0.0

    def update(self, value: Any = 1) -> None:
        """Count ``value`` more."""
        self.n += item(value)

    @property
    def elapsed_time(self) -> float:
        """Seconds since the meter started."""
        return time.perf_counter() - self.start

    @property
    def avg(self) -> float:
        """Counts per second."""
        return self.n / self.elapsed_time if self.elapsed_time > 0 else 0.0

    @property
    def smoothed_value(self) -> float:
        """Counts per second, rounded as requested."""
        return _round(self.avg, self.round)


class DerivedMeter:
    """A value computed from other meters when read (``ppl`` from ``loss``)."""

    def __init__(self, fn: Callable[[MetersDict], Any]) -> None:
        self.fn = fn

    def reset(self) -> None:
        """Nothing to reset: the value is derived."""


class MetersDict(OrderedDict):
    """Meters in priority order; derived meters are computed on read."""

    def __init__(self) -> None:
        super().__init__()
        self.priorities: dict[str, tuple[int, int]] = {}

    def add_meter(self, key: str, meter: Any, priority: int) -> None:
        """Add a meter, keeping the dict sorted by priority then insertion."""
        self.priorities[key] = (priority, len(self.priorities))
        self[key] = meter
        for k in sorted(self.priorities, key=self.priorities.get):
            self.move_to_end(k)

    def get_smoothed_value(self, key: str) -> Any:
        """Return one meter's value (derived meters computed now)."""
        meter = self[key]
        if isinstance(meter, DerivedMeter):
            return meter.fn(self)
        return meter.smoothed_value

    def get_smoothed_values(self) -> OrderedDict:
        """Return every meter's value, skipping names that start with an underscore."""
        return OrderedDict((k, self.get_smoothed_value(k)) for k in self if not k.startswith("_"))

    def reset(self) -> None:
        """Reset every meter."""
        for meter in self.values():
            meter.reset()


_aggregators: OrderedDict[str, MetersDict] = OrderedDict()
_active: OrderedDict[str, MetersDict] = OrderedDict()


def reset() -> None:
    """Drop every aggregator and start a fresh default one."""
    _aggregators.clear()
    _active.clear()
    _aggregators["default"] = MetersDict()
    _active["default"] = _aggregators["default"]


reset()


@contextlib.contextmanager
def aggregate(name: str | None = None, new_root: bool = False) -> Iterator[MetersDict]:
    """Collect the values logged inside the block in the aggregator ``name``."""
    if name is None:
        name = str(uuid.uuid4())
        assert name not in _aggregators
        agg = MetersDict()
    else:
        agg = _aggregators.setdefault(name, MetersDict())
    saved = None
    if new_root:
        saved = _active.copy()
        _active.clear()
    _active[name] = agg
    try:
        yield agg
    finally:
        del _active[name]
        if saved is not None:
            _active.update(saved)


def _meter(key: str, factory: Callable[[], Any], priority: int) -> Iterator[Any]:
    for agg in _active.values():
        if key not in agg:
            agg.add_meter(key, factory(), priority)
        yield agg[key]


def log_scalar(key: str, value: Any, weight: Any = 1, priority: int = 10, round: int | None = None) -> None:
    """Log a value to be averaged with ``weight`` in every active aggregator."""
    for meter in _meter(key, lambda: AverageMeter(round=round), priority):
        meter.update(value, weight)


def log_scalar_sum(key: str, value: Any, priority: int = 10, round: int | None = None) -> None:
    """Log a value to be summed in every active aggregator."""
    for meter in _meter(key, lambda: SumMeter(round=round), priority):
        meter.update(value)


def log_derived(key: str, fn: Callable[[MetersDict], Any], priority: int = 20) -> None:
    """Log a value computed from other meters when it is read."""
    for agg in _active.values():
        if key not in agg:
            agg.add_meter(key, DerivedMeter(fn), priority)


def log_speed(key: str, value: Any, priority: int = 30, round: int | None = None) -> None:
    """Log a count whose rate per second is reported."""
    for meter in _meter(key, lambda: TimeMeter(round=round), priority):
        meter.update(value)


def get_meter(name: str, key: str) -> Any:
    """Return one meter of a named aggregator, or None."""
    agg = _aggregators.get(name)
    return None if agg is None else agg.get(key)


def get_meters(name: str) -> MetersDict | None:
    """Return a named aggregator, or None."""
    return _aggregators.get(name)


def get_smoothed_values(name: str) -> dict[str, Any]:
    """Return every value of a named aggregator."""
    agg = _aggregators.get(name)
    return {} if agg is None else dict(agg.get_smoothed_values())


def reset_meters(name: str) -> None:
    """Reset the meters of a named aggregator."""
    agg = _aggregators.get(name)
    if agg is not None:
        agg.reset()


def _round(value: float, digits: int | None) -> float:
    if digits is None:
        return value
    return round(float(value), digits)
