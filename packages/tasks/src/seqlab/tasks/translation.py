"""The ``translation`` task: binarized parallel data from seq-preprocess into translation mini-batches."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any

import torch

from seqlab.core import SeqlabError, Task, register_task
from seqlab.core.dictionary import Dictionary

from .arg_types import str_to_bool
from .data.index_format import dataset_exists, index_path
from .data.indexed_dataset import IndexedDataset
from .data.language_pair_dataset import LanguagePairDataset
from .data.truncated_dataset import TruncatedDataset
from .data_paths import epoch_data_path, split_paths
from .data_sentencepiece import DataSentencePiece
from .generation import SequenceGenerator, build_generator
from .generation.eval_bleu import EvalBleuConfig, ValidationBleu
from .sentencepiece_model import SentencePieceModel
from .task_state import (
    dictionary_from_state,
    dictionary_state,
    sentencepiece_from_state,
    sentencepiece_state,
)

logger = logging.getLogger(__name__)


@dataclass
class TranslationConfig(EvalBleuConfig):
    """Options of the translation task (with validation BLEU's, from :class:`EvalBleuConfig`)."""

    source_lang: str | None = field(
        default=None,
        metadata={"help": "source language (inferred from the data files when omitted)", "aliases": ["-s"]},
    )
    target_lang: str | None = field(
        default=None,
        metadata={"help": "target language (inferred from the data files when omitted)", "aliases": ["-t"]},
    )
    left_pad_source: bool = field(
        default=True, metadata={"help": "pad the source on the left", "type": str_to_bool, "metavar": "BOOL"}
    )
    left_pad_target: bool = field(
        default=False, metadata={"help": "pad the target on the left", "type": str_to_bool, "metavar": "BOOL"}
    )
    max_source_positions: int = field(default=1024, metadata={"help": "max number of tokens in the source"})
    truncate_source: bool = field(
        default=False,
        metadata={
            "help": "cut sources longer than --max-source-positions to it (ending with </s>) instead of skipping them"
        },
    )
    max_target_positions: int = field(default=1024, metadata={"help": "max number of tokens in the target"})


def infer_language_pair(path: str) -> tuple[str, str]:
    """Return ``(src, tgt)`` from the ``<split>.<src>-<tgt>.<lang>.idx`` files of a data directory."""
    if not os.path.isdir(path):
        raise SeqlabError(f"data directory {path} does not exist; seq-preprocess --destdir {path} writes it")
    pairs = set()
    for name in os.listdir(path):
        parts = name.split(".")
        if len(parts) >= 4 and parts[-1] == "idx":
            langs = parts[-3].split("-")
            if len(langs) == 2 and "None" not in langs and parts[-2] in langs:
                pairs.add((langs[0], langs[1]))
    if not pairs:
        raise SeqlabError(
            f"cannot infer --source-lang and --target-lang: {path} has no <split>.<src>-<tgt>.<lang>.idx "
            "files; pass them, or binarize parallel text with seq-preprocess"
        )
    if len(pairs) > 1:
        found = ", ".join(f"{a}-{b}" for a, b in sorted(pairs))
        raise SeqlabError(
            f"{path} holds several language pairs ({found}); pass --source-lang and --target-lang"
        )
    return next(iter(pairs))


@register_task("translation", dataclass=TranslationConfig)
class TranslationTask(DataSentencePiece, Task):
    """Translate from one language to another with a sequence-to-sequence model."""

    @classmethod
    def add_args(cls, parser: Any) -> None:
        """Add the positional data directory, then the dataclass flags."""
        parser.add_argument(
            "data",
            help="directory of binarized data from seq-preprocess (several joined by ':' are "
            "used in turn, one per epoch)",
        )
        super().add_args(parser)

    def __init__(
        self,
        args: Any,
        src_dict: Dictionary,
        tgt_dict: Dictionary,
        sentencepiece: SentencePieceModel | None = None,
    ) -> None:
        super().__init__(args)
        self.src_dict = src_dict
        self.tgt_dict = tgt_dict
        self.init_sentencepiece(args.data, sentencepiece)
        self.validation_bleu = (
            ValidationBleu(args, tgt_dict, self.load_sentencepiece())
            if getattr(args, "eval_bleu", False)
            else None
        )

    @classmethod
    def setup_task(cls, args: Any, **kwargs: Any) -> TranslationTask:
        """Infer the languages if needed and load both dictionaries from the data directory."""
        paths = split_paths(args.data)
        if getattr(args, "source_lang", None) is None or getattr(args, "target_lang", None) is None:
            src, tgt = infer_language_pair(paths[0])
            args.source_lang = args.source_lang or src
            args.target_lang = args.target_lang or tgt
        src_dict = cls.load_dictionary(os.path.join(paths[0], f"dict.{args.source_lang}.txt"))
        tgt_dict = cls.load_dictionary(os.path.join(paths[0], f"dict.{args.target_lang}.txt"))
        if (src_dict.pad(), src_dict.eos(), src_dict.unk()) != (
            tgt_dict.pad(),
            tgt_dict.eos(),
            tgt_dict.unk(),
        ):
            raise SeqlabError(
                "the source and target dictionaries disagree on the ids of <pad>, </s> or <unk>"
            )
        logger.info("[%s] dictionary: %d types", args.source_lang, len(src_dict))
        logger.info("[%s] dictionary: %d types", args.target_lang, len(tgt_dict))
        return cls(args, src_dict, tgt_dict)

    @classmethod
    def setup_task_from_state(cls, args: Any, state: dict[str, Any]) -> TranslationTask:
        """Rebuild the task from a checkpoint's ``task_state``: no data directory needed."""
        if not state or "source_dictionary" not in state:
            raise SeqlabError(
                "the checkpoint holds no translation dictionaries (task_state); it was not written by "
                "seq-train, so pass the data directory it was trained on instead"
            )
        for attr, flag in (("source_lang", "--source-lang"), ("target_lang", "--target-lang")):
            saved, given = state.get(attr), getattr(args, attr, None)
            if given is not None and saved is not None and given != saved:
                raise SeqlabError(
                    f"the checkpoint translates {state.get('source_lang')}-{state.get('target_lang')}, "
                    f"not {flag} {given}; drop {flag} or use a checkpoint of that direction"
                )
            setattr(args, attr, given or saved)
        src_dict = dictionary_from_state(state["source_dictionary"], "task_state source_dictionary")
        tgt_dict = dictionary_from_state(state["target_dictionary"], "task_state target_dictionary")
        spm = sentencepiece_from_state(state.get("sentencepiece"))
        return cls(args, src_dict, tgt_dict, sentencepiece=spm)

    def state_dict(self) -> dict[str, Any]:
        """Languages, both dictionaries and the sentencepiece model, as plain data."""
        return {
            "source_lang": self.args.source_lang,
            "target_lang": self.args.target_lang,
            "source_dictionary": dictionary_state(self.src_dict),
            "target_dictionary": dictionary_state(self.tgt_dict),
            "sentencepiece": sentencepiece_state(self.load_sentencepiece()),
        }

    def load_dataset(self, split: str, combine: bool = False, epoch: int = 1, **kwargs: Any) -> None:
        """Load ``<split>.<src>-<tgt>.<lang>`` from the data directory of this epoch.

        ``combine`` is accepted for fairseq's callers; seq-preprocess writes one file per split.
        """
        data_path = epoch_data_path(self.args.data, epoch)
        src, tgt = self.args.source_lang, self.args.target_lang
        prefix = None
        for a, b in ((src, tgt), (tgt, src)):
            candidate = os.path.join(data_path, f"{split}.{a}-{b}.")
            if dataset_exists(candidate + src):
                prefix = candidate
                break
        if prefix is None:
            expected = index_path(os.path.join(data_path, f"{split}.{src}-{tgt}.{src}"))
            raise SeqlabError(
                f"{expected} does not exist; binarize the {split} split with seq-preprocess "
                f"--source-lang {src} --target-lang {tgt} --{split}pref PREFIX --destdir {data_path}"
            )
        src_ds: Any = IndexedDataset(prefix + src, expected_vocab_size=len(self.src_dict))
        if getattr(self.args, "truncate_source", False):
            limit = self.args.max_source_positions
            src_ds = TruncatedDataset(src_ds, src_ds.sizes, limit, self.src_dict.eos())
        tgt_ds = None
        if dataset_exists(prefix + tgt):
            tgt_ds = IndexedDataset(prefix + tgt, expected_vocab_size=len(self.tgt_dict))
            if len(tgt_ds) != len(src_ds):
                raise SeqlabError(
                    f"{prefix}{src} has {len(src_ds)} sentences but {prefix}{tgt} has {len(tgt_ds)}; "
                    "binarize both sides of the split together with seq-preprocess"
                )
        logger.info("%s %s %s-%s %d examples", data_path, split, src, tgt, len(src_ds))
        self.datasets[split] = LanguagePairDataset(
            src_ds,
            src_ds.sizes,
            self.src_dict,
            tgt_ds,
            tgt_ds.sizes if tgt_ds is not None else None,
            self.tgt_dict,
            left_pad_source=self.args.left_pad_source,
            left_pad_target=self.args.left_pad_target,
            shuffle=split != "test",
        )

    def build_dataset_for_inference(
        self, src_tokens: list[torch.Tensor], src_lengths: list[int], **kwargs: Any
    ) -> LanguagePairDataset:
        """A source-only dataset of already encoded sentences, for interactive translation."""
        return LanguagePairDataset(
            src_tokens,
            src_lengths,
            self.source_dictionary,
            tgt_dict=self.target_dictionary,
            left_pad_source=self.args.left_pad_source,
            left_pad_target=self.args.left_pad_target,
            shuffle=False,
        )

    def build_generator(self, models: list[Any], args: Any, **kwargs: Any) -> SequenceGenerator:
        """A beam-search (or sampling) generator with the generation options in ``args``.

        ``extra_gen_cls_kwargs`` (fairseq's name) passes more keyword arguments to the
        generator, such as ``lm_model`` and ``lm_weight``.
        """
        return build_generator(
            models, args, self.target_dictionary, **(kwargs.get("extra_gen_cls_kwargs") or {})
        )

    def inference_step(
        self,
        generator: Any,
        models: list[Any],
        sample: dict[str, Any],
        prefix_tokens: Any = None,
        **kwargs: Any,
    ) -> list[list[dict[str, Any]]]:
        """Translate a batch: for each sentence, its hypotheses best first."""
        with torch.no_grad():
            return generator.generate(models, sample, prefix_tokens=prefix_tokens)

    def valid_step(
        self, sample: dict[str, Any], model: Any, criterion: Any
    ) -> tuple[Any, Any, dict[str, Any]]:
        """The criterion's validation loss, plus BLEU counts with ``--eval-bleu``."""
        loss, sample_size, logging_output = super().valid_step(sample, model, criterion)
        if self.validation_bleu is not None:
            logging_output.update(self.validation_bleu.logging_output(model, sample))
        return loss, sample_size, logging_output

    def reduce_metrics(self, logging_outputs: list[dict[str, Any]], criterion: Any) -> None:
        """The criterion's metrics, plus corpus ``bleu`` with ``--eval-bleu``."""
        super().reduce_metrics(logging_outputs, criterion)
        if self.validation_bleu is not None:
            ValidationBleu.reduce_metrics(logging_outputs)

    def max_positions(self) -> tuple[int, int]:
        """``(max source positions, max target positions)``."""
        return self.args.max_source_positions, self.args.max_target_positions

    @property
    def source_dictionary(self) -> Dictionary:
        """The source-side dictionary."""
        return self.src_dict

    @property
    def target_dictionary(self) -> Dictionary:
        """The target-side dictionary."""
        return self.tgt_dict
