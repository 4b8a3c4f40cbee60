"""One row of the results table: the two figures, their ratio, the target, and every run's value."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Target:
    """A goal on the ratio (seqlab / baseline) or on seqlab's own figure."""

    op: str  # ">=" or "<="
    value: float
    on: str = "ratio"  # "ratio" or "seqlab"
    text: str = ""

    def met(self, seqlab: float | None, ratio: float | None) -> bool | None:
        """Whether the goal is met; None when the figure it needs is missing."""
        x = ratio if self.on == "ratio" else seqlab
        if x is None or x != x:
            return None
        return x >= self.value if self.op == ">=" else x <= self.value


@dataclass
class Row:
    """One measure of the table."""

    key: str
    measure: str
    unit: str
    target: Target
    baseline_name: str = "fairseq"
    seqlab: float | None = None
    baseline: float | None = None
    raw: dict[str, list[float]] = field(default_factory=dict)
    note: str = ""

    @property
    def ratio(self) -> float | None:
        """seqlab / baseline, when both figures exist."""
        if self.seqlab is None or not self.baseline:
            return None
        return self.seqlab / self.baseline

    @property
    def met(self) -> bool | None:
        """Whether the row meets its target."""
        return self.target.met(self.seqlab, self.ratio)

    def to_dict(self) -> dict:
        """Plain data for the JSON file."""
        return {
            "row": self.key,
            "measure": self.measure,
            "unit": self.unit,
            "seqlab": self.seqlab,
            "baseline": self.baseline,
            "baseline_name": self.baseline_name,
            "ratio": self.ratio,
            "target": self.target.text,
            "met": self.met,
            "raw": self.raw,
            "note": self.note,
        }


def median(values: list[float]) -> float | None:
    """The median, or None for no values."""
    return statistics.median(values) if values else None


def skipped(key: str, measure: str, why: str, target: Target) -> Row:
    """A row that was not measured, saying why."""
    return Row(key, measure, "", target, note=why)
