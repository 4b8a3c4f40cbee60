"""``seq-interactive --path CKPT``: translate (or continue) raw text from stdin or ``--input``.

Needs nothing but the checkpoint: its dictionaries and sentencepiece model encode the
input. Lines are read ``--buffer-size`` at a time and each buffer's hypotheses are
printed (``S-``, ``W-`` seconds per sentence, ``H-``, ``D-``, ``P-``, and ``A-`` with
``--print-alignment``) before the next is
read, so typed sentences are answered as they come.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import IO, Any

import torch

from seqlab.core import ConfigError, SeqlabError
from seqlab.core.entry import run_tool
from seqlab.core.utils import move_to_device, resolve_max_positions, strip_pad
from seqlab.tasks.binarizer import LineEncoder
from seqlab.tasks.generation import GenerationConfig, SequenceGenerator
from seqlab.tasks.generation.alignment import add_alignments, check_alignment_models

from .gc_freeze import loaded_objects_frozen
from .hypothesis_output import TextDecoder, hypothesis_lines
from .inference_options import add_batch_args, add_checkpoint_args, add_generation_args
from .inference_setup import Inference, load_inference, setup_tool_logging
from .lm_fusion import check_lm_fusion_args, load_fusion_lm
from .task_generation import inference_step, make_generator
from .text_pipeline import add_text_pipeline_args, build_text_pipeline
from .unk_replacement import UnkReplacer, load_replacement_table

PROG = "seq-interactive"
DESCRIPTION = (
    "Translate raw text (stdin, or --input FILE) with a trained checkpoint, using the "
    "checkpoint's own dictionaries and sentencepiece model: seq-interactive --path CKPT."
)

logger = logging.getLogger("seqlab.interactive")


def add_args(parser: argparse.ArgumentParser) -> None:
    """seq-interactive's own flags."""
    add_checkpoint_args(parser)
    add_batch_args(parser, subset=False)
    add_generation_args(parser)
    add_text_pipeline_args(parser)
    g = parser.add_argument_group("input")
    g.add_argument("--input", default="-", metavar="FILE", help="read sentences from this file ('-': stdin)")
    g.add_argument(
        "--buffer-size", type=int, default=1, metavar="N", help="read N lines before translating them"
    )
    g.add_argument(
        "--constraints",
        nargs="?",
        const="ordered",
        choices=("ordered", "unordered"),
        default=None,
        help="each input line is 'source<TAB>phrase<TAB>phrase...': every hypothesis contains the "
        "phrases, in the order given (ordered, the default) or in any order (unordered)",
    )


def split_constraints(lines: list[str]) -> tuple[list[str], list[list[str]]]:
    """Each ``source<TAB>phrase<TAB>...`` line's source, and its phrases (empty ones dropped)."""
    parts = [line.split("\t") for line in lines]
    return [p[0] for p in parts], [[c.strip() for c in p[1:] if c.strip()] for p in parts]


def buffered_lines(stream: Iterable[str], size: int) -> Iterator[list[str]]:
    """Lines (stripped, as fairseq reads them) in lists of ``size``; the last list may be shorter."""
    buffer: list[str] = []
    for line in stream:
        buffer.append(line.strip())
        if len(buffer) >= size:
            yield buffer
            buffer = []
    if buffer:
        yield buffer


class Translator:
    """Encodes raw lines with the checkpoint's vocabulary and generates for them in batches."""

    def __init__(self, inf: Inference) -> None:
        self.inf = inf
        args, task = inf.args, inf.task
        self.cfg = GenerationConfig.from_args(args)
        lm = load_fusion_lm(args, task.target_dictionary, inf.device)
        self.generator = make_generator(task, inf.models, args, lm)
        if args.constraints is not None and not isinstance(self.generator, SequenceGenerator):
            raise ConfigError(
                f"--constraints needs seqlab's beam search; the task's generator is {type(self.generator).__name__}"
            )
        self.aligning = args.print_alignment is not None or args.replace_unk is not None
        if self.aligning:
            check_alignment_models(inf.models)
        self.replacer = (
            UnkReplacer(args.replace_unk, task.target_dictionary) if args.replace_unk is not None else None
        )
        load_spm = getattr(task, "load_sentencepiece", None)
        spm = load_spm() if load_spm is not None else None
        self.pipeline = build_text_pipeline(args, task, spm is not None)
        self.decoder = TextDecoder(args.remove_bpe, spm, self.pipeline.decode if self.pipeline else None)
        self.src_dict = task.source_dictionary
        self.encoder = LineEncoder(self.src_dict, spm)
        self.target_encoder = LineEncoder(task.target_dictionary, spm)
        self.is_lm = not all(getattr(m, "encoder", None) is not None for m in inf.models)
        limit = resolve_max_positions(task.max_positions(), *[m.max_positions() for m in inf.models])
        self.max_source = limit[0] if isinstance(limit, tuple) else limit

    def encode(self, lines: list[str], first_id: int) -> list[torch.Tensor]:
        """Each line's ids (``</s>`` ended for translation; a language model's prompt has none)."""
        flat, sizes = self.encoder.encode([self.prepared(line) for line in lines])
        ids = torch.from_numpy(flat.astype("int64")).split(sizes.tolist())
        out = [t[:-1] if self.is_lm else t for t in ids]
        for n, t in enumerate(out):
            if self.max_source is not None and len(t) > self.max_source - (1 if self.is_lm else 0):
                raise SeqlabError(
                    f"input line {first_id + n + 1} has {len(t)} tokens, more than the model accepts "
                    f"({self.max_source}); split it into shorter lines"
                )
        return out

    def translate(
        self, lines: list[str], first_id: int, phrases: list[list[list[int]]] | None = None
    ) -> list[tuple[torch.Tensor, list[dict[str, Any]]]]:
        """Generate for the lines (each with its constraint ``phrases``); return each line's ids and hypotheses."""
        args, task = self.inf.args, self.inf.task
        tokens = self.encode(lines, first_id)
        dataset = task.build_dataset_for_inference(tokens, [len(t) for t in tokens])
        itr = task.get_batch_iterator(
            dataset=dataset,
            max_tokens=args.max_tokens,
            max_sentences=args.batch_size,
            required_batch_size_multiple=args.required_batch_size_multiple,
            seed=args.seed,
            num_workers=args.num_workers,
            disable_iterator_cache=True,
        ).next_epoch_itr(shuffle=False)
        results: dict[int, list[dict[str, Any]]] = {}
        for sample in itr:
            if not sample:
                continue
            sample = move_to_device(sample, self.inf.device) if self.inf.device.type != "cpu" else sample
            if phrases is not None:
                wanted = [phrases[i] for i in sample["id"].tolist()]
                ordered = args.constraints == "ordered"
                with torch.no_grad():
                    hypos = self.generator.generate(
                        self.inf.models, sample, constraints=wanted, ordered=ordered
                    )
            else:
                hypos = inference_step(task, self.generator, self.inf.models, sample)
            if self.aligning:
                tgt_dict = task.target_dictionary
                add_alignments(
                    self.inf.models,
                    sample["net_input"],
                    hypos,
                    self.cfg.nbest,
                    args.print_alignment or "hard",
                    tgt_dict.pad(),
                    tgt_dict.eos(),
                )
            for i, sample_id in enumerate(sample["id"].tolist()):
                results[sample_id] = hypos[i]
        return [(tokens[i], results[i]) for i in range(len(lines))]

    def prepared(self, line: str) -> str:
        """``line`` tokenized and split into BPE pieces as ``--tokenizer``/``--bpe`` say (as it is without)."""
        return self.pipeline.encode(line) if self.pipeline is not None else line

    def encode_phrases(self, phrases: list[str]) -> list[list[int]]:
        """Target-side ids of constraint phrases (no ``</s>``)."""
        if not phrases:
            return []
        flat, sizes = self.target_encoder.encode([self.prepared(p) for p in phrases])
        return [t[:-1].tolist() for t in torch.from_numpy(flat.astype("int64")).split(sizes.tolist())]

    def print_results(
        self,
        out: IO[str],
        lines_in: list[str],
        results: list[tuple[torch.Tensor, Any]],
        first_id: int,
        seconds: float,
        phrases: list[list[list[int]]] | None = None,
    ) -> None:
        """Print each sentence's ``S-``, ``W-``, ``C-`` and hypothesis lines (``lines_in``: the sources)."""
        tgt_dict = self.inf.task.target_dictionary
        per_sentence = seconds / max(len(results), 1)
        lines = []
        for n, (src_tokens, hypos) in enumerate(results):
            sample_id = first_id + n
            src = self.decoder.tokens(self.src_dict, strip_pad(src_tokens, self.src_dict.pad()))
            lines.append(f"S-{sample_id}\t{src}")
            lines.append(f"W-{sample_id}\t{per_sentence:.3f}\tseconds")
            for phrase in phrases[n] if phrases is not None else []:
                lines.append(f"C-{sample_id}\t{self.decoder.tokens(tgt_dict, torch.tensor(phrase))}")
            source = self.encoder.tokens(self.prepared(lines_in[n])) if self.replacer is not None else []
            for hypo in hypos[: self.cfg.nbest]:
                if self.replacer is not None:
                    text = self.decoder.join(self.replacer.words(hypo, source))
                else:
                    text = self.decoder.tokens(tgt_dict, hypo["tokens"])
                detok = self.decoder.detokenize(text)
                lines.extend(hypothesis_lines(sample_id, hypo, text, detok, self.inf.args.print_alignment))
        out.write("".join(line + "\n" for line in lines))
        out.flush()


def _check_args(args: argparse.Namespace) -> None:
    GenerationConfig.from_args(args)
    check_lm_fusion_args(args)
    if args.replace_unk is not None:
        load_replacement_table(args.replace_unk)
    build_text_pipeline(args, None, False)  # its files and flags, before the model loads


def _main(argv: list[str]) -> int:
    setup_tool_logging()
    inf = load_inference(
        PROG,
        DESCRIPTION,
        add_args,
        argv,
        with_task_options=False,
        check=_check_args,
    )
    args = inf.args
    if args.buffer_size < 1:
        raise ConfigError(f"--buffer-size must be at least 1, not {args.buffer_size}")
    if args.max_tokens is None and args.batch_size is None:
        args.batch_size = 1
    if args.batch_size is not None and args.batch_size > args.buffer_size:
        raise ConfigError(
            f"--batch-size {args.batch_size} is larger than --buffer-size {args.buffer_size}; raise --buffer-size"
        )
    translator = Translator(inf)
    stream: IO[str] = sys.stdin if args.input == "-" else open(args.input, encoding="utf-8")  # noqa: SIM115
    try:
        if stream.isatty():
            print("Type the input sentence and press return:", file=sys.stderr, flush=True)
        first_id = 0
        with loaded_objects_frozen():
            for lines in buffered_lines(stream, args.buffer_size):
                start = time.perf_counter()
                phrases = None
                if args.constraints is not None:
                    lines, constraints = split_constraints(lines)
                    phrases = [translator.encode_phrases(c) for c in constraints]
                results = translator.translate(lines, first_id, phrases)
                seconds = time.perf_counter() - start
                translator.print_results(sys.stdout, lines, results, first_id, seconds, phrases)
                first_id += len(lines)
    finally:
        if stream is not sys.stdin:
            stream.close()
    logger.info("translated %d sentences", first_id)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``seq-interactive``."""
    return run_tool(PROG, _main, argv)


if __name__ == "__main__":
    sys.exit(main())
