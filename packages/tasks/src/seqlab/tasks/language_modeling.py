"""The ``language_modeling`` task: binarized monolingual text cut into blocks for next-token prediction."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any, Literal

from seqlab.core import SeqlabError, Task, register_task
from seqlab.core.dictionary import Dictionary

from .data.index_format import dataset_exists, index_path
from .data.indexed_dataset import IndexedDataset
from .data.monolingual_dataset import MonolingualDataset
from .data.token_block_dataset import TokenBlockDataset
from .data_paths import sentencepiece_path, split_paths
from .sentencepiece_model import SentencePieceModel

logger = logging.getLogger(__name__)


@dataclass
class LanguageModelingConfig:
    """Options of the language-modeling task."""

    tokens_per_sample: int = field(default=1024, metadata={"help": "max number of tokens per sample"})
    sample_break_mode: Literal["none", "complete", "eos"] = field(
        default="none",
        metadata={
            "help": "none: fill each sample with tokens_per_sample tokens across sentences; complete: "
            "whole sentences up to tokens_per_sample; eos: one sentence per sample"
        },
    )


@register_task("language_modeling", dataclass=LanguageModelingConfig)
class LanguageModelingTask(Task):
    """Train a language model that predicts each next token."""

    @classmethod
    def add_args(cls, parser: Any) -> None:
        """Add the positional data directory, then the dataclass flags."""
        parser.add_argument(
            "data",
            help="directory of binarized text from seq-preprocess --only-source (several joined by ':' "
            "are used in turn, one per epoch)",
        )
        super().add_args(parser)

    def __init__(
        self, args: Any, dictionary: Dictionary, output_dictionary: Dictionary | None = None
    ) -> None:
        super().__init__(args)
        self.dictionary = dictionary
        self.output_dictionary = output_dictionary or dictionary
        self.spm_model_path = sentencepiece_path(split_paths(args.data)[0])

    @classmethod
    def setup_task(cls, args: Any, **kwargs: Any) -> LanguageModelingTask:
        """Load ``dict.txt`` from the data directory."""
        paths = split_paths(args.data)
        dictionary = cls.load_dictionary(os.path.join(paths[0], "dict.txt"))
        logger.info("dictionary: %d types", len(dictionary))
        return cls(args, dictionary)

    def load_dataset(self, split: str, combine: bool = False, epoch: int = 1, **kwargs: Any) -> None:
        """Load ``<split>.bin``/``.idx`` and cut it into blocks of ``--tokens-per-sample`` tokens.

        ``combine`` is accepted for fairseq's callers; seq-preprocess writes one file per split.
        """
        paths = split_paths(self.args.data)
        data_path = paths[(epoch - 1) % len(paths)]
        prefix = os.path.join(data_path, split)
        if not dataset_exists(prefix):
            raise SeqlabError(
                f"{index_path(prefix)} does not exist; binarize language-model text with seq-preprocess "
                f"--only-source --{split}pref FILE --destdir {data_path} (without --source-lang)"
            )
        tokens = IndexedDataset(prefix, expected_vocab_size=len(self.dictionary))
        blocks = TokenBlockDataset(
            tokens,
            tokens.sizes,
            self.args.tokens_per_sample,
            pad=self.dictionary.pad(),
            eos=self.dictionary.eos(),
            break_mode=self.args.sample_break_mode,
            include_targets=True,
        )
        logger.info("%s %s %d blocks", data_path, split, len(blocks))
        self.datasets[split] = MonolingualDataset(blocks, blocks.sizes, self.dictionary, shuffle=True)

    def load_sentencepiece(self) -> SentencePieceModel | None:
        """The sentencepiece model seq-preprocess stored beside the data, if it used one."""
        return SentencePieceModel.load(self.spm_model_path) if self.spm_model_path else None

    def max_positions(self) -> int:
        """The longest sample: ``--tokens-per-sample``."""
        return self.args.tokens_per_sample

    @property
    def source_dictionary(self) -> Dictionary:
        """The input dictionary."""
        return self.dictionary

    @property
    def target_dictionary(self) -> Dictionary:
        """The output dictionary."""
        return self.output_dictionary
