"""Read the figures the tools print: interval speeds of training, the summary line of generation."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Interval:
    """One logged training interval."""

    end_update: int
    wps: float  # target tokens per second over the interval
    wpb: float  # target tokens per batch


def train_intervals(output: str) -> list[Interval]:
    """The ``train_inner`` JSON records of seq-train or fairseq-train (or the bare loop), in order.

    fairseq prints its records through logging (``... | train_inner | {json}``), with numbers as
    strings; seq-train prints bare JSON lines with a ``tag`` key. Both are read alike.
    """
    found = []
    for line in output.splitlines():
        brace = line.find("{")
        if brace < 0 or "train_inner" not in line:
            continue
        try:
            record = json.loads(line[brace:])
        except ValueError:
            continue
        if record.get("tag", "train_inner") != "train_inner" or "wps" not in record:
            continue
        found.append(Interval(int(float(record["num_updates"])), float(record["wps"]), float(record["wpb"])))
    return found


def interval_speed(intervals: list[Interval], after_update: int) -> list[float]:
    """Target tokens/s of every interval that starts after ``after_update`` (the warm-up updates)."""
    return [i.wps for i in intervals if i.end_update > after_update]


# the printed rate comes from the unrounded time, which "in Xs" rounds to 0.1 s (5 % at 2 s)
_TRANSLATED = re.compile(
    r"Translated ([\d,]+) sentences \(([\d,]+) tokens\) in ([\d.]+)s(?: \([\d.,]+ sentences/s, ([\d.,]+) tokens/s\))?"
)


@dataclass(frozen=True)
class Generated:
    """The generation summary both seq-generate and fairseq-generate print."""

    sentences: int
    tokens: int
    seconds: float
    #: the rate the tool printed, when it did
    printed_rate: float | None = None

    @property
    def tokens_per_s(self) -> float:
        """Generated tokens (end-of-sentence included) per second of generation."""
        if self.printed_rate is not None:
            return self.printed_rate
        return self.tokens / self.seconds if self.seconds > 0 else float("nan")


def generation_summary(output: str) -> Generated:
    """Parse the ``Translated N sentences (M tokens) in Xs`` line."""
    match = _TRANSLATED.search(output)
    if match is None:
        raise ValueError("no 'Translated ... sentences' line in the generation output")
    sentences, tokens, seconds, rate = match.groups()
    printed = None if rate is None else float(rate.replace(",", ""))
    return Generated(int(sentences.replace(",", "")), int(tokens.replace(",", "")), float(seconds), printed)


def hypotheses(output: str) -> dict[int, str]:
    """The best hypothesis of each sentence (``H-<id>\\t<score>\\t<text>`` lines), by sentence id."""
    best: dict[int, str] = {}
    for line in output.splitlines():
        if line.startswith("H-"):
            head, _, text = line.split("\t", 2) if line.count("\t") >= 2 else (line, "", "")
            best.setdefault(int(head[2:]), text)
    return best
