"""Raw text to token ids in parallel: count tokens for a dictionary, binarize a file into ``.bin``/``.idx``.

A file is cut into chunks at line starts; worker processes read and encode the
chunks and the parent writes the results in file order, so the output does not
depend on the number of workers. A line is everything between two ``\\n``
bytes (a ``\\r`` before ``\\n`` is kept as text); lines must be UTF-8.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from seqlab.core import SeqlabError
from seqlab.core.dictionary import Dictionary, tokenize_line

from .data.index_format import IndexedDatasetBuilder, best_dtype
from .sentencepiece_model import SentencePieceModel

#: bytes of text per chunk: small enough for steady progress, large enough to amortise IPC
CHUNK_BYTES = 1 << 20
#: lines encoded in one call, to bound the memory a worker holds
LINES_PER_BATCH = 8192

Progress = Callable[[int, int], None]  # (bytes done, lines done) since the last call


@dataclass(frozen=True)
class Chunk:
    """Lines of ``path`` that start in the byte range ``[start, end)``."""

    path: str
    start: int
    end: int


@dataclass
class BinarizeStats:
    """What binarizing one file produced."""

    sentences: int = 0
    tokens: int = 0
    unknown: int = 0

    @property
    def unk_rate(self) -> float:
        """Share of tokens replaced by ``<unk>``."""
        return self.unknown / self.tokens if self.tokens else 0.0


def find_chunks(path: str, workers: int = 1, chunk_bytes: int = CHUNK_BYTES) -> list[Chunk]:
    """Cut a file into chunks that begin at line starts (at least one per worker when large enough)."""
    size = os.path.getsize(path)
    count = max(workers, -(-size // chunk_bytes), 1)
    bounds = [0]
    with open(path, "rb") as f:
        for i in range(1, count):
            f.seek(size * i // count)
            f.readline()
            pos = f.tell()
            if bounds[-1] < pos < size:
                bounds.append(pos)
    bounds.append(size)
    return [Chunk(path, a, b) for a, b in zip(bounds, bounds[1:]) if b > a]


def read_lines(chunk: Chunk) -> Iterator[str]:
    """Yield the chunk's lines without their ``\\n``."""
    with open(chunk.path, "rb") as f:
        f.seek(chunk.start)
        pos = chunk.start
        while pos < chunk.end:
            raw = f.readline()
            if not raw:
                break
            where = pos
            pos += len(raw)
            try:
                yield raw[:-1].decode("utf-8") if raw.endswith(b"\n") else raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise SeqlabError(
                    f"{chunk.path}: the line at byte {where} is not UTF-8 ({exc.reason}); "
                    "convert the file to UTF-8 (e.g. with iconv)"
                ) from None


def _batches(chunk: Chunk) -> Iterator[list[str]]:
    batch: list[str] = []
    for line in read_lines(chunk):
        batch.append(line)
        if len(batch) == LINES_PER_BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


class LineEncoder:
    """Turns raw lines into a dictionary's ids, through sentencepiece pieces or whitespace tokens."""

    def __init__(self, dictionary: Dictionary, spm: SentencePieceModel | None = None) -> None:
        self.dictionary = dictionary
        self.spm = spm
        self.dtype = best_dtype(len(dictionary))
        # sentencepiece id -> dictionary id; pieces the dictionary lacks become <unk>
        self._lut = (
            np.array([dictionary.index(p) for p in spm.pieces()], dtype=np.int64) if spm is not None else None
        )

    def tokens(self, line: str) -> list[str]:
        """The line's tokens as :meth:`encode` reads them (pieces, or whitespace tokens), before ids."""
        return self.spm.encode(line) if self.spm is not None else tokenize_line(line)

    def encode(self, lines: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Return the lines' ids back to back (each ending with ``</s>``) and each line's length."""
        eos = self.dictionary.eos()
        if self._lut is not None:
            assert self.spm is not None
            pieces = self.spm.encode_ids(list(lines))
            lengths = np.fromiter((len(p) for p in pieces), dtype=np.int64, count=len(pieces))
            flat = np.fromiter((i for p in pieces for i in p), dtype=np.int64, count=int(lengths.sum()))
            ids = np.insert(self._lut[flat], np.cumsum(lengths), eos)
            return ids, (lengths + 1).astype(np.int32)
        index = self.dictionary.index
        rows = [[index(w) for w in tokenize_line(line)] + [eos] for line in lines]
        sizes = np.fromiter((len(r) for r in rows), dtype=np.int32, count=len(rows))
        flat_ids = np.fromiter((i for r in rows for i in r), dtype=np.int64, count=int(sizes.sum()))
        return flat_ids, sizes


# --- what runs in worker processes -------------------------------------------------------------

_STATE: dict[str, Any] = {}


def _init_worker(dictionaries: dict[Any, Dictionary] | None, spm: SentencePieceModel | None) -> None:
    _STATE.clear()
    _STATE["spm"] = spm
    _STATE["encoders"] = {key: LineEncoder(d, spm) for key, d in (dictionaries or {}).items()}


def _count_chunk(chunk: Chunk) -> tuple[Any, int, int]:
    spm: SentencePieceModel | None = _STATE["spm"]
    lines = 0
    if spm is not None:
        counts = np.zeros(len(spm), dtype=np.int64)
        for batch in _batches(chunk):
            lines += len(batch)
            ids = [i for p in spm.encode_ids(batch) for i in p]
            counts += np.bincount(np.asarray(ids, dtype=np.int64), minlength=len(spm))
        return counts, chunk.end - chunk.start, lines
    counter: Counter[str] = Counter()
    for batch in _batches(chunk):
        lines += len(batch)
        for line in batch:
            counter.update(tokenize_line(line))
    return counter, chunk.end - chunk.start, lines


def _encode_chunk(task: tuple[Any, Chunk]) -> tuple[np.ndarray, np.ndarray, int, int]:
    key, chunk = task
    encoder: LineEncoder = _STATE["encoders"][key]
    parts, sizes = [], []
    for batch in _batches(chunk):
        ids, lengths = encoder.encode(batch)
        parts.append(ids.astype(encoder.dtype))
        sizes.append(lengths)
    tokens = np.concatenate(parts) if parts else np.zeros(0, dtype=encoder.dtype)
    lengths_all = np.concatenate(sizes) if sizes else np.zeros(0, dtype=np.int32)
    return tokens, lengths_all, chunk.end - chunk.start, len(lengths_all)


def _map(
    fn: Callable[[Any], Any],
    tasks: list[Any],
    workers: int,
    dictionaries: dict[Any, Dictionary] | None,
    spm: SentencePieceModel | None,
) -> Iterator[Any]:
    """Run ``fn`` over the tasks, results in order, in one pool of ``workers`` processes (here when 1)."""
    if workers <= 1 or len(tasks) <= 1:
        _init_worker(dictionaries, spm)
        for task in tasks:
            yield fn(task)
        return
    with multiprocessing.Pool(min(workers, len(tasks)), _init_worker, (dictionaries, spm)) as pool:
        yield from pool.imap(fn, tasks)


def count_tokens(
    paths: Sequence[str],
    spm: SentencePieceModel | None = None,
    workers: int = 1,
    progress: Progress | None = None,
) -> Counter[str]:
    """Count the tokens (sentencepiece pieces, or whitespace-separated words) of text files."""
    total: Counter[str] = Counter()
    piece_counts = np.zeros(len(spm), dtype=np.int64) if spm is not None else None
    chunks = [c for path in paths for c in find_chunks(path, workers)]
    for counts, nbytes, nlines in _map(_count_chunk, chunks, workers, None, spm):
        if piece_counts is not None:
            piece_counts += counts
        else:
            total.update(counts)
        if progress is not None:
            progress(nbytes, nlines)
    if spm is not None and piece_counts is not None:
        for piece_id, piece in enumerate(spm.pieces()):
            if piece_counts[piece_id] and not spm.is_special(piece_id):
                total[piece] += int(piece_counts[piece_id])
    return total


def build_dictionary(
    counts: Counter[str],
    spm: SentencePieceModel | None = None,
    threshold: int = 0,
    nwords: int = -1,
    padding_factor: int = 8,
) -> Dictionary:
    """Make a finalized dictionary from token counts.

    With sentencepiece every piece of the model is a symbol (count 0 when unseen),
    so text the model can encode never needs ``<unk>`` unless ``threshold`` or
    ``nwords`` drops pieces.
    """
    d = Dictionary()
    if spm is not None:
        for piece_id, piece in enumerate(spm.pieces()):
            if not spm.is_special(piece_id):
                d.add_symbol(piece, n=counts.get(piece, 0))
    else:
        for word, n in sorted(counts.items()):
            d.add_symbol(word, n=n)
    d.finalize(threshold=threshold, nwords=nwords, padding_factor=padding_factor)
    return d


@dataclass(frozen=True)
class BinarizeJob:
    """One text file to binarize into ``out_prefix.bin``/``.idx`` with the dictionary under ``dict_key``."""

    path: str
    out_prefix: str
    dict_key: Any = None


def binarize_files(
    jobs: Sequence[BinarizeJob],
    dictionaries: dict[Any, Dictionary],
    spm: SentencePieceModel | None = None,
    workers: int = 1,
    progress: Progress | None = None,
) -> list[BinarizeStats]:
    """Encode every line of every job's file and write its ``.bin``/``.idx``; one pool serves all jobs."""
    tasks = [(k, chunk) for k, job in enumerate(jobs) for chunk in find_chunks(job.path, workers)]
    stats = [BinarizeStats() for _ in jobs]
    builders: dict[int, IndexedDatasetBuilder] = {}
    results = _map(_encode_chunk, [(jobs[k].dict_key, c) for k, c in tasks], workers, dictionaries, spm)
    try:
        for (k, _), (tokens, sizes, nbytes, nlines) in zip(tasks, results):
            job = jobs[k]
            dictionary = dictionaries[job.dict_key]
            if k not in builders:
                builders[k] = IndexedDatasetBuilder(job.out_prefix, vocab_size=len(dictionary))
            builders[k].add_items(tokens, sizes)
            stats[k].sentences += len(sizes)
            stats[k].tokens += int(tokens.size)
            stats[k].unknown += int(np.count_nonzero(tokens == dictionary.unk()))
            if progress is not None:
                progress(nbytes, nlines)
        for k, job in enumerate(jobs):
            if k not in builders:  # an empty file has no chunk
                builders[k] = IndexedDatasetBuilder(
                    job.out_prefix, vocab_size=len(dictionaries[job.dict_key])
                )
            builders.pop(k).finalize()
    finally:
        for builder in builders.values():
            builder.close()
    return stats


def binarize_file(
    path: str,
    out_prefix: str,
    dictionary: Dictionary,
    spm: SentencePieceModel | None = None,
    workers: int = 1,
    progress: Progress | None = None,
) -> BinarizeStats:
    """Encode every line of ``path`` and write ``out_prefix.bin``/``.idx``."""
    return binarize_files([BinarizeJob(path, out_prefix)], {None: dictionary}, spm, workers, progress)[0]
