"""``seq-generate DATA --path CKPT``: translate (or continue) a binarized split and score it.

Prints fairseq's lines (``S-`` source, ``T-`` reference, ``H-`` hypothesis tokens, ``D-``
detokenized hypothesis, ``P-`` per-token scores, scores in base 2), the speed in
sentences/s and tokens/s, and corpus BLEU (sacrebleu) of the ``D-`` lines against the
``T-`` lines. With ``--results-path DIR`` the lines go to ``DIR/generate-<split>.txt``,
written whole or not at all; with ``--score-reference`` the references are scored instead
of searched for; ``--print-alignment`` adds ``A-`` lines and ``--num-shards``/``--shard-id``
generate one shard of the split's batches.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import IO, Any

import torch

from seqlab.core import ConfigError
from seqlab.core.entry import run_tool
from seqlab.core.progress import Progress, default_format
from seqlab.core.utils import move_to_device, resolve_max_positions, strip_pad
from seqlab.tasks.generation import EnsembleModel, GenerationConfig
from seqlab.tasks.generation.alignment import add_alignments, check_alignment_models
from seqlab.tasks.generation.bleu import TOKENIZERS, corpus_bleu, corpus_chrf
from seqlab.tasks.generation.reference_scoring import score_references
from seqlab.tasks.generation.token_bleu import TokenBleu

from .gc_freeze import loaded_objects_frozen
from .hypothesis_output import TextDecoder, hypothesis_lines
from .inference_options import add_batch_args, add_checkpoint_args, add_generation_args, add_logging_args
from .inference_setup import Inference, load_inference, setup_tool_logging, split_batches
from .lm_fusion import check_lm_fusion_args, load_fusion_lm
from .task_generation import inference_batches, make_generator
from .text_pipeline import add_text_pipeline_args, build_text_pipeline
from .unk_replacement import UnkReplacer, load_replacement_table

PROG = "seq-generate"
DESCRIPTION = (
    "Translate a binarized split with a trained checkpoint (or an ensemble) and report BLEU: "
    "seq-generate DATA --path CKPT. The task and model are rebuilt from the checkpoint; "
    "pass --path CKPT --help to see its task's options."
)
logger = logging.getLogger("seqlab.generate")


def add_args(parser: argparse.ArgumentParser) -> None:
    """seq-generate's own flags."""
    add_checkpoint_args(parser)
    add_batch_args(parser)
    g = parser.add_argument_group("sharding")
    g.add_argument(
        "--num-shards",
        type=int,
        default=1,
        help="split the split's batches into this many shards, one per process or machine",
    )
    g.add_argument(
        "--shard-id", type=int, default=0, help="the shard to generate, from 0 to --num-shards - 1"
    )
    add_generation_args(parser)
    add_text_pipeline_args(parser)
    g = parser.add_argument_group("output and scoring")
    g.add_argument("--results-path", metavar="DIR", default=None, help="write generate-<split>.txt here")
    g.add_argument("--quiet", action="store_true", help="print only the speed and the score")
    g.add_argument(
        "--score-reference",
        action="store_true",
        help="score each reference instead of searching: H- is the reference, P- its tokens' "
        "log-probabilities, the score their mean (search options are ignored)",
    )
    g.add_argument(
        "--scoring",
        choices=["sacrebleu", "chrf", "bleu"],
        default="sacrebleu",
        help="the corpus metric: sacreBLEU on detokenized text, chrF, or fairseq's 'bleu' over the "
        "H- line's tokens (not comparable across segmentations)",
    )
    g.add_argument(
        "--sacrebleu-tokenizer", choices=TOKENIZERS, default="13a", help="sacrebleu's tokenization for BLEU"
    )
    g.add_argument("--sacrebleu-lowercase", action="store_true", help="case-insensitive BLEU")
    add_logging_args(parser)


def check_args(args: argparse.Namespace) -> None:
    """Reject bad generation or sharding options before any model loads."""
    GenerationConfig.from_args(args)
    check_lm_fusion_args(args)
    if args.replace_unk is not None:
        load_replacement_table(args.replace_unk)
    build_text_pipeline(args, None, False)  # its files and flags, before the model loads
    if args.score_reference and args.lm_path is not None:
        raise ConfigError("--score-reference scores with the --path models only; drop --lm-path")
    if args.num_shards < 1:
        raise ConfigError(f"--num-shards must be at least 1, not {args.num_shards}")
    if not 0 <= args.shard_id < args.num_shards:
        raise ConfigError(
            f"--shard-id {args.shard_id} must be from 0 to --num-shards - 1 ({args.num_shards - 1})"
        )


def results_filename(args: argparse.Namespace) -> str:
    """``generate-<split>.txt``, or ``generate-<split>-shard<k>of<n>.txt`` for one of several shards."""
    if args.num_shards == 1:
        return f"generate-{args.gen_subset}.txt"
    return f"generate-{args.gen_subset}-shard{args.shard_id}of{args.num_shards}.txt"


@contextlib.contextmanager
def _output(results_path: str | None, filename: str) -> Iterator[IO[str]]:
    if results_path is None:
        yield sys.stdout
        return
    os.makedirs(results_path, exist_ok=True)
    final = os.path.join(results_path, filename)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-generate-", suffix=".txt", dir=results_path)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as out:
            yield out
        os.replace(tmp, final)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    logger.info("wrote %s", final)


class Scorer:
    """Collects the top hypothesis and the reference of every sentence; scores them at the end."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.hyps: list[str] = []
        self.refs: list[str] = []
        self.tokens = TokenBleu()

    def add(self, reference: str, hypothesis: str, reference_tokens: str, hypothesis_tokens: str) -> None:
        """Add one sentence's reference and top hypothesis, detokenized and as tokens (``T-``/``H-`` text)."""
        self.refs.append(reference)
        self.hyps.append(hypothesis)
        if self.args.scoring == "bleu":
            self.tokens.add(reference_tokens.split(), hypothesis_tokens.split())

    def result_string(self) -> str:
        """fairseq's result string, e.g. ``BLEU = 27.31 58.9/33.4/21.0/13.6 (BP = ...)``."""
        if self.args.scoring == "chrf":
            return str(corpus_chrf(self.hyps, self.refs))
        if self.args.scoring == "bleu":
            return self.tokens.result_string()
        score = corpus_bleu(
            self.hyps,
            self.refs,
            tokenize=self.args.sacrebleu_tokenizer,
            lowercase=self.args.sacrebleu_lowercase,
        )
        return score.format()


def generate(inf: Inference, out: IO[str]) -> None:
    """Generate the split for every batch, print the lines, the speed and the score."""
    args, task, models = inf.args, inf.task, inf.models
    cfg = GenerationConfig.from_args(args)
    task.load_dataset(args.gen_subset)
    dataset = task.dataset(args.gen_subset)
    max_positions = resolve_max_positions(task.max_positions(), *[m.max_positions() for m in models])
    itr = split_batches(
        task, dataset, args, max_positions, num_shards=args.num_shards, shard_id=args.shard_id
    )
    load_spm = getattr(task, "load_sentencepiece", None)
    spm = load_spm() if load_spm is not None else None
    pipeline = build_text_pipeline(args, task, spm is not None)
    decoder = TextDecoder(args.remove_bpe, spm, pipeline.decode if pipeline is not None else None)
    src_dict, tgt_dict = task.source_dictionary, task.target_dictionary
    scorer = Scorer(args)
    progress = Progress(itr, default_format(args.log_format), prefix=f"generate on '{args.gen_subset}'")
    sentences = tokens = 0
    has_target = False
    aligning = args.print_alignment is not None or args.replace_unk is not None
    if aligning:
        check_alignment_models(models)
    replacer = UnkReplacer(args.replace_unk, tgt_dict) if args.replace_unk is not None else None
    batches = _Batches(progress, inf.device)
    if args.score_reference:
        results = _reference_scores(models, batches, tgt_dict.pad())
    else:
        generator = make_generator(task, models, args, load_fusion_lm(args, tgt_dict, inf.device))
        results = inference_batches(task, generator, models, batches, cfg.prefix_size)
    if aligning:
        results = _aligned(results, models, cfg.nbest, args.print_alignment or "hard", tgt_dict)
    clock = _GenerationClock(batches, inf.device)
    for batch_no, (sample, hypos) in enumerate(clock.timed(results), start=1):
        tokens += sum(len(h[0]["tokens"]) for h in hypos if h)
        sentences += len(hypos)
        for i, sample_id in enumerate(sample["id"].tolist()):
            has_target = sample["target"] is not None
            _print_sentence(
                out,
                args,
                sample,
                i,
                sample_id,
                hypos[i],
                src_dict,
                tgt_dict,
                decoder,
                scorer,
                cfg.nbest,
                replacer,
            )
        if batch_no % max(args.log_interval, 1) == 0 or progress.fmt == "tqdm":
            wps = round(tokens / clock.seconds) if clock.seconds else 0
            progress.log({"wps": wps}, tag="generate", step=batch_no)
    seconds = clock.seconds
    logger.info("NOTE: hypothesis and token scores are output in base 2")
    rate = (sentences / seconds, tokens / seconds) if seconds else (0.0, 0.0)
    logger.info(
        "Translated %d sentences (%d tokens) in %.1fs (%.2f sentences/s, %.2f tokens/s)",
        sentences,
        tokens,
        seconds,
        *rate,
    )
    if has_target:
        print(
            f"Generate {args.gen_subset} with beam={cfg.beam}: {scorer.result_string()}", file=out, flush=True
        )


def _reference_scores(
    models: list[torch.nn.Module], batches: Iterable[dict[str, Any]], pad: int
) -> Iterator[tuple[dict[str, Any], list[list[dict[str, Any]]]]]:
    ensemble = EnsembleModel(models)
    for sample in batches:
        yield sample, score_references(ensemble, sample, pad)


def _aligned(
    results: Iterable[tuple[dict[str, Any], list[list[dict[str, Any]]]]],
    models: list[torch.nn.Module],
    nbest: int,
    kind: str,
    tgt_dict: Any,
) -> Iterator[tuple[dict[str, Any], list[list[dict[str, Any]]]]]:
    for sample, hypos in results:
        add_alignments(models, sample["net_input"], hypos, nbest, kind, tgt_dict.pad(), tgt_dict.eos())
        yield sample, hypos


class _Batches:
    """The split's non-empty batches, on the model's device; counts the time spent loading them."""

    def __init__(self, batches: Iterable[Any], device: torch.device) -> None:
        self.batches, self.device, self.seconds = batches, device, 0.0

    def __iter__(self) -> Iterator[dict[str, Any]]:
        batches = iter(self.batches)
        while True:
            start = time.perf_counter()
            sample = next(batches, None)
            usable = bool(sample) and "net_input" in sample
            if usable and self.device.type != "cpu":
                sample = move_to_device(sample, self.device)
            self.seconds += time.perf_counter() - start
            if sample is None:
                return
            if usable:
                yield sample


class _GenerationClock:
    """Seconds spent generating: the time taken by each batch's results, less the loading of batches."""

    def __init__(self, batches: _Batches, device: torch.device) -> None:
        self.batches, self.device, self.total = batches, device, 0.0

    @property
    def seconds(self) -> float:
        """Generation time so far."""
        return max(self.total - self.batches.seconds, 0.0)

    def timed(self, results: Iterator[Any]) -> Iterator[Any]:
        """Yield ``results``, adding the time each one took to come."""
        while True:
            start = time.perf_counter()
            item = next(results, None)
            if self.device.type == "cuda":
                torch.cuda.synchronize()
            self.total += time.perf_counter() - start
            if item is None:
                return
            yield item


def _print_sentence(
    out: IO[str],
    args: argparse.Namespace,
    sample: dict[str, Any],
    i: int,
    sample_id: int,
    hypos: list[dict[str, Any]],
    src_dict: Any,
    tgt_dict: Any,
    decoder: TextDecoder,
    scorer: Scorer,
    nbest: int,
    replacer: UnkReplacer | None = None,
) -> None:
    lines = []
    src_tokens = sample["net_input"].get("src_tokens")
    if src_dict is not None and src_tokens is not None:
        src = decoder.detokenize(decoder.tokens(src_dict, strip_pad(src_tokens[i], src_dict.pad())))
        lines.append(f"S-{sample_id}\t{src}")
    target = target_tokens = None
    if sample["target"] is not None:
        # <unk> in a reference is escaped, so that it matches no <unk> of a hypothesis
        target_tokens = decoder.tokens(tgt_dict, strip_pad(sample["target"][i], tgt_dict.pad()), True)
        target = decoder.detokenize(target_tokens)
        lines.append(f"T-{sample_id}\t{target}")
    source = None
    if replacer is not None and src_tokens is not None:
        source = [src_dict[t] for t in src_tokens[i].tolist() if t not in (src_dict.pad(), src_dict.eos())]
    for j, hypo in enumerate(hypos[:nbest]):
        if replacer is not None and source is not None:
            text = decoder.join(replacer.words(hypo, source))
        else:
            text = decoder.tokens(tgt_dict, hypo["tokens"])
        detok = decoder.detokenize(text)
        lines.extend(hypothesis_lines(sample_id, hypo, text, detok, args.print_alignment))
        if j == 0 and target is not None and target_tokens is not None:
            scorer.add(target, detok, target_tokens, text)
    if target is not None and target_tokens is not None and not hypos:
        scorer.add(target, "", target_tokens, "")
    if not args.quiet:
        out.write("".join(line + "\n" for line in lines))


def _main(argv: list[str]) -> int:
    setup_tool_logging()
    inf = load_inference(
        PROG,
        DESCRIPTION,
        add_args,
        argv,
        with_task_options=True,
        check=check_args,
    )
    with loaded_objects_frozen(), _output(inf.args.results_path, results_filename(inf.args)) as out:
        generate(inf, out)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``seq-generate``."""
    return run_tool(PROG, _main, argv)


if __name__ == "__main__":
    sys.exit(main())
