"""``--eval-bleu``: translate the validation set while training and report corpus BLEU as ``bleu``.

Each validation batch is translated with the options of ``--eval-bleu-args`` and scored
with sacrebleu; the batch's n-gram counts go into the logging output, so the reported
``bleu`` is the corpus BLEU over every batch and worker. Use it to choose the best
checkpoint with ``--best-checkpoint-metric bleu --maximize-best-checkpoint-metric``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Literal

import torch

from seqlab.core import metrics
from seqlab.core.utils import strip_pad

from . import bleu as bleu_lib
from .config import GenerationConfig
from .detokenizers import build_detokenizer
from .sequence_generator import SequenceGenerator

logger = logging.getLogger(__name__)

# unknown words must never match: the reference's and the hypothesis' are spelt differently
UNK_IN_REFERENCE = "UNKNOWNTOKENINREF"
UNK_IN_HYPOTHESIS = "UNKNOWNTOKENINHYP"


@dataclass
class EvalBleuConfig:
    """Validation BLEU options of the translation task (fairseq's names)."""

    eval_bleu: bool = field(
        default=False, metadata={"help": "translate the validation set and report corpus BLEU as 'bleu'"}
    )
    eval_bleu_args: str = field(
        default="{}",
        metadata={"help": 'generation options for --eval-bleu as JSON, e.g. \'{"beam": 4, "lenpen": 0.6}\''},
    )
    eval_bleu_detok: Literal["auto", "space", "sentencepiece", "moses"] = field(
        default="auto",
        metadata={
            "help": "turn tokens into text before scoring: sentencepiece decodes with the data's model, "
            "moses undoes Moses tokenization (needs sacremoses), space joins tokens; auto: sentencepiece "
            "when the data has a model"
        },
    )
    eval_bleu_detok_args: str | None = field(
        default=None,
        metadata={"help": 'options of --eval-bleu-detok moses as JSON, e.g. \'{"target_lang": "de"}\''},
    )
    eval_bleu_remove_bpe: str | None = field(
        default=None,
        metadata={
            "help": "remove this BPE marker before scoring ('sentencepiece', or '@@ ' when given alone)",
            "const": "@@ ",
            "metavar": "MARKER",
        },
    )
    eval_tokenized_bleu: bool = field(
        default=False, metadata={"help": "score the text as it is, without sacrebleu's 13a tokenizer"}
    )
    eval_bleu_print_samples: bool = field(
        default=False, metadata={"help": "log one hypothesis and its reference per validation batch"}
    )


class ValidationBleu:
    """Generates and scores validation batches for a translation task."""

    def __init__(self, args: Any, tgt_dict: Any, sentencepiece: Any) -> None:
        self.gen_cfg = GenerationConfig.from_json(getattr(args, "eval_bleu_args", "{}"))
        self.detokenize = build_detokenizer(
            getattr(args, "eval_bleu_detok", "auto"),
            getattr(args, "eval_bleu_detok_args", None),
            sentencepiece,
        )
        self.tgt_dict = tgt_dict
        self.remove_bpe = getattr(args, "eval_bleu_remove_bpe", None)
        self.tokenize = "none" if getattr(args, "eval_tokenized_bleu", False) else "13a"
        self.print_samples = getattr(args, "eval_bleu_print_samples", False)
        self._generator: SequenceGenerator | None = None
        self._model: torch.nn.Module | None = None

    def _generator_for(self, model: torch.nn.Module) -> SequenceGenerator:
        if self._generator is None or self._model is not model:
            self._generator = SequenceGenerator([model], self.tgt_dict, self.gen_cfg)
            self._model = model
        return self._generator

    def decode(self, tokens: torch.Tensor, unk: str) -> str:
        """Token ids to the text that is scored."""
        text = self.tgt_dict.string(tokens.int().cpu(), self.remove_bpe, unk_string=unk)
        return self.detokenize(text) if self.detokenize is not None else text

    def logging_output(self, model: torch.nn.Module, sample: dict[str, Any]) -> dict[str, int]:
        """Translate a batch and return its BLEU counts as summable logging-output entries."""
        model = getattr(model, "module", model)  # DistributedDataParallel wraps the model
        generator = self._generator_for(model)
        hypos = generator.generate([model], sample)
        generator.model.release_buffers()  # training goes on between validations: hold nothing for it
        pad = self.tgt_dict.pad()
        hyps = [self.decode(h[0]["tokens"], UNK_IN_HYPOTHESIS) if h else "" for h in hypos]
        refs = [self.decode(strip_pad(t, pad), UNK_IN_REFERENCE) for t in sample["target"]]
        if self.print_samples and hyps:
            logger.info("example hypothesis: %s", hyps[0])
            logger.info("example reference: %s", refs[0])
        return bleu_lib.bleu_logging_output(bleu_lib.corpus_bleu(hyps, refs, tokenize=self.tokenize))

    @staticmethod
    def reduce_metrics(logging_outputs: list[dict[str, Any]]) -> None:
        """Sum the batches' BLEU counts and log ``bleu`` derived from the sums."""
        keys = ["_bleu_sys_len", "_bleu_ref_len"]
        keys += [f"_bleu_{kind}_{i}" for kind in ("counts", "totals") for i in range(bleu_lib.ORDER)]
        sums = {k: sum(float(log.get(k, 0)) for log in logging_outputs) for k in keys}
        if max(sums[f"_bleu_totals_{i}"] for i in range(bleu_lib.ORDER)) <= 0:
            return
        for key, value in sums.items():
            metrics.log_scalar_sum(key, value)

        def compute(meters: Any) -> float:
            return round(bleu_lib.bleu_from_counts({k: meters[k].sum for k in keys}), 2)

        metrics.log_derived("bleu", compute)
