"""docs/options.md is generated from the parsers; it must match what they say now."""

from __future__ import annotations

from pathlib import Path

from seqlab.cli.options_reference import reference

DOC = Path(__file__).resolve().parents[1] / "docs" / "options.md"


def test_options_reference_is_up_to_date():
    assert DOC.read_text() == reference(), (
        "docs/options.md is stale: run `python -m seqlab.cli.options_reference > docs/options.md`"
    )
