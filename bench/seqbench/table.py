"""The output: one table of ratios, the raw figures of every run under it, and the same as JSON."""

from __future__ import annotations

import json
from pathlib import Path

from .results import Row


def fmt(value: float | None, unit: str) -> str:
    """A figure with its unit, rounded for reading."""
    if value is None:
        return "—"
    if unit == "tok/s":
        return f"{value:,.0f} tok/s"
    if unit == "MiB":
        return f"{value:,.0f} MiB"
    if unit == "%":
        return f"{value:.1f}%"
    if unit == "s":
        return f"{value:.2f} s"
    if unit == "BLEU":
        return f"{value:.2f}"
    return f"{value:.4g} {unit}".strip()


def _cells(row: Row) -> list[str]:
    if row.seqlab is None and row.baseline is None:
        why = row.note or "not measured"
        if len(why) > 30:  # the whole reason is printed under the table
            why = why.split(":")[0].split(";")[0][:30] + " (see below)"
        return [row.key, row.measure, why, "", "", row.target.text, "—"]
    baseline = fmt(row.baseline, row.unit) + (f" ({row.baseline_name})" if row.baseline is not None else "")
    ratio = "—" if row.ratio is None else f"{row.ratio:.2f}×"
    met = {True: "yes", False: "NO", None: "—"}[row.met]
    return [row.key, row.measure, fmt(row.seqlab, row.unit), baseline, ratio, row.target.text, met]


def render(header: list[str], rows: list[Row]) -> str:
    """The table, then every row's raw figures and notes."""
    table = [["#", "measure", "seqlab", "baseline", "ratio", "target", "met?"]] + [_cells(r) for r in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
    lines = [*header, ""]
    for n, cells in enumerate(table):
        lines.append("  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    lines += ["", "raw figures (every measured run, in run order):"]
    for row in rows:
        lines.append(f"  row {row.key} — {row.measure}" + (f" [{row.note}]" if row.note else ""))
        for name, values in row.raw.items():
            lines.append(f"    {name}: " + ", ".join(f"{v:,.4g}" for v in values))
    return "\n".join(lines)


def write_json(path: Path, header: dict, rows: list[Row]) -> None:
    """Write the results where they can be quoted from."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps({"run": header, "rows": [r.to_dict() for r in rows]}, indent=2) + "\n", encoding="utf-8"
    )
