"""``--replace-unk``: each ``<unk>`` of a hypothesis becomes the source token it is aligned to (fairseq's flag).

The alignment is the hard alignment of ``--print-alignment``. Given a file, the source token
is looked up in it first (one ``source target`` pair per line, as fairseq's alignment
dictionaries), so that a word the target vocabulary lacks can still be translated. It is
meant for word-level vocabularies: a sentencepiece model with byte fallback leaves no
``<unk>`` to replace.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from seqlab.core import ConfigError


def add_replace_unk_arg(group: Any) -> None:
    """``--replace-unk [FILE]``."""
    group.add_argument(
        "--replace-unk",
        nargs="?",
        const="",
        default=None,
        metavar="FILE",
        help="replace each <unk> of a hypothesis with the source token it is aligned to, translated "
        "by FILE's 'source target' lines when given",
    )


@functools.lru_cache(maxsize=4)
def load_replacement_table(path: str) -> dict[str, str]:
    """The ``--replace-unk`` file's pairs (empty without a file); read once, when options are checked."""
    if not path:
        return {}
    table: dict[str, str] = {}
    try:
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, start=1):
                cols = line.split()
                if not cols:
                    continue
                if len(cols) < 2:
                    raise ConfigError(
                        f"--replace-unk {path}, line {number}: expected 'source target', got {line.strip()!r}"
                    )
                table[cols[0]] = cols[1]
    except OSError as exc:
        raise ConfigError(f"--replace-unk: cannot read {path} ({exc.strerror})") from exc
    return table


class UnkReplacer:
    """Replaces the ``<unk>`` of hypotheses aligned by :func:`~seqlab.tasks.generation.alignment.add_alignments`."""

    def __init__(self, path: str, dictionary: Any) -> None:
        self.table = load_replacement_table(path)
        self.dictionary = dictionary

    def words(self, hypo: dict[str, Any], source: Sequence[str]) -> list[str]:
        """The hypothesis' tokens (``</s>`` left out), each ``<unk>`` replaced by its aligned source token.

        ``source`` holds the source's tokens other than ``<pad>`` and ``</s>``, which the
        ``"hard_alignment"`` of :func:`add_alignments` indexes.
        """
        d = self.dictionary
        ids = [i for i in hypo["tokens"].tolist() if i not in (d.bos(), d.pad(), d.eos())]
        out = [d[i] for i in ids]
        aligned = {t: s for s, t in hypo.get("hard_alignment") or []}
        for i, token in enumerate(ids):
            if token == d.unk() and i in aligned and aligned[i] < len(source):
                word = source[aligned[i]]
                out[i] = self.table.get(word, word)
        return out
