"""The ``language_modeling`` task: binarized monolingual text cut into blocks for next-token prediction."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any, Literal

import torch

from seqlab.core import SeqlabError, Task, register_task
from seqlab.core.dictionary import Dictionary

from .data.index_format import dataset_exists, index_path
from .data.indexed_dataset import IndexedDataset
from .data.monolingual_dataset import MonolingualDataset
from .data.shortened_dataset import maybe_shorten
from .data.token_block_dataset import TokenBlockDataset
from .data_paths import epoch_data_path, split_paths
from .data_sentencepiece import DataSentencePiece
from .generation import SequenceGenerator, build_generator
from .generation.prompts import PromptDataset
from .sentencepiece_model import SentencePieceModel
from .task_state import (
    dictionary_from_state,
    dictionary_state,
    sentencepiece_from_state,
    sentencepiece_state,
)

logger = logging.getLogger(__name__)


@dataclass
class LanguageModelingConfig:
    """Options of the language-modeling task."""

    tokens_per_sample: int = field(default=1024, metadata={"help": "max number of tokens per sample"})
    sample_break_mode: Literal["none", "complete", "complete_doc", "eos"] = field(
        default="none",
        metadata={
            "help": "none: fill each sample with tokens_per_sample tokens across sentences; complete: "
            "whole sentences up to tokens_per_sample; complete_doc: the same without crossing a "
            "document boundary (an empty line); eos: one sentence per sample"
        },
    )
    shorten_method: Literal["none", "truncate", "random_crop"] = field(
        default="none",
        metadata={
            "help": "cut sentences longer than tokens_per_sample: truncate keeps their start, random_crop "
            "a window drawn afresh every epoch"
        },
    )
    shorten_data_split_list: str = field(
        default="",
        metadata={"help": "comma-separated splits to shorten (e.g. 'train,valid'); empty: every split"},
    )
    add_bos_token: bool = field(
        default=False,
        metadata={
            "help": "start every sample with <s> (its target starts with <s> too, as in fairseq); "
            "generation starts from <s> and seq-eval-lm does not score it"
        },
    )


@register_task("language_modeling", dataclass=LanguageModelingConfig)
class LanguageModelingTask(DataSentencePiece, Task):
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
        self,
        args: Any,
        dictionary: Dictionary,
        output_dictionary: Dictionary | None = None,
        sentencepiece: SentencePieceModel | None = None,
    ) -> None:
        super().__init__(args)
        self.dictionary = dictionary
        self.output_dictionary = output_dictionary or dictionary
        self.init_sentencepiece(args.data, sentencepiece)

    @classmethod
    def setup_task(cls, args: Any, **kwargs: Any) -> LanguageModelingTask:
        """Load ``dict.txt`` from the data directory."""
        paths = split_paths(args.data)
        dictionary = cls.load_dictionary(os.path.join(paths[0], "dict.txt"))
        logger.info("dictionary: %d types", len(dictionary))
        return cls(args, dictionary)

    @classmethod
    def setup_task_from_state(cls, args: Any, state: dict[str, Any]) -> LanguageModelingTask:
        """Rebuild the task from a checkpoint's ``task_state``: no data directory needed."""
        if not state or "dictionary" not in state:
            raise SeqlabError(
                "the checkpoint holds no language-model dictionary (task_state); it was not written by "
                "seq-train, so pass the data directory it was trained on instead"
            )
        dictionary = dictionary_from_state(state["dictionary"], "task_state dictionary")
        output = state.get("output_dictionary")
        output_dictionary = dictionary_from_state(output, "task_state output_dictionary") if output else None
        spm = sentencepiece_from_state(state.get("sentencepiece"))
        return cls(args, dictionary, output_dictionary, sentencepiece=spm)

    def state_dict(self) -> dict[str, Any]:
        """The dictionary (and a distinct output dictionary) and the sentencepiece model, as plain data."""
        same = self.output_dictionary is self.dictionary
        return {
            "dictionary": dictionary_state(self.dictionary),
            "output_dictionary": None if same else dictionary_state(self.output_dictionary),
            "sentencepiece": sentencepiece_state(self.load_sentencepiece()),
        }

    def load_dataset(self, split: str, combine: bool = False, epoch: int = 1, **kwargs: Any) -> None:
        """Load ``<split>.bin``/``.idx`` and cut it into blocks of ``--tokens-per-sample`` tokens.

        ``combine`` is accepted for fairseq's callers; seq-preprocess writes one file per split.
        """
        data_path = epoch_data_path(self.args.data, epoch)
        prefix = os.path.join(data_path, split)
        if not dataset_exists(prefix):
            raise SeqlabError(
                f"{index_path(prefix)} does not exist; binarize language-model text with seq-preprocess "
                f"--only-source --{split}pref FILE --destdir {data_path} (without --source-lang)"
            )
        tokens = IndexedDataset(prefix, expected_vocab_size=len(self.dictionary))
        sentences, sizes = maybe_shorten(
            tokens,
            tokens.sizes,
            split,
            getattr(self.args, "shorten_method", "none"),
            getattr(self.args, "shorten_data_split_list", ""),
            self.args.tokens_per_sample,
            int(getattr(self.args, "seed", 1)),
        )
        blocks = TokenBlockDataset(
            sentences,
            sizes,
            self.args.tokens_per_sample,
            pad=self.dictionary.pad(),
            eos=self.dictionary.eos(),
            break_mode=self.args.sample_break_mode,
            include_targets=True,
        )
        logger.info("%s %s %d blocks", data_path, split, len(blocks))
        bos = self.dictionary.bos() if getattr(self.args, "add_bos_token", False) else None
        self.datasets[split] = MonolingualDataset(
            blocks, blocks.sizes, self.dictionary, shuffle=True, bos=bos
        )

    def build_dataset_for_inference(
        self, src_tokens: list[torch.Tensor], src_lengths: list[int], **kwargs: Any
    ) -> PromptDataset:
        """Prompts to continue (encoded, without ``</s>``), for interactive generation."""
        return PromptDataset(src_tokens, src_lengths, self.dictionary.pad())

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
        """Continue each input: the input is forced as the prefix unless ``prefix_tokens`` are given."""
        # generation starts as training's inputs do: from <s> with --add-bos-token, else from </s>
        add_bos = getattr(self.args, "add_bos_token", False)
        bos = self.source_dictionary.bos() if add_bos else self.source_dictionary.eos()
        src_tokens = sample["net_input"]["src_tokens"]
        if prefix_tokens is None and src_tokens.numel():
            prefix_tokens = src_tokens[:, 1:] if bool(src_tokens[:, 0].eq(bos).all()) else src_tokens
        with torch.no_grad():
            return generator.generate(models, sample, prefix_tokens=prefix_tokens, bos_token=bos)

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
