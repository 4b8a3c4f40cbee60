"""Task base class (fairseq's ``FairseqTask`` contract): data, model, criterion and steps."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import torch

from .plugin_base import PluginOptions

logger = logging.getLogger(__name__)


class Task(PluginOptions):
    """Owns the dictionaries and datasets, builds model and criterion, runs train and valid steps."""

    def __init__(self, args: Any, **kwargs: Any) -> None:
        self.args = args
        self.cfg = args
        self.datasets: dict[str, Any] = {}
        self.dataset_to_epoch_iter: dict[Any, Any] = {}

    @classmethod
    def setup_task(cls, args: Any, **kwargs: Any) -> Task:
        """Build the task (load dictionaries etc.) from the flat ``args``."""
        return cls(args, **kwargs)

    def load_dataset(self, split: str, combine: bool = False, epoch: int = 1, **kwargs: Any) -> None:
        """Load a split into ``self.datasets[split]``."""
        raise NotImplementedError(f"{type(self).__name__} must implement load_dataset")

    def dataset(self, split: str) -> Any:
        """Return a loaded split."""
        from .errors import SeqlabError

        if split not in self.datasets:
            raise SeqlabError(
                f"dataset split '{split}' is not loaded; call task.load_dataset('{split}') first"
            )
        return self.datasets[split]

    @classmethod
    def load_dictionary(cls, filename: str) -> Any:
        """Load a :class:`~seqlab.core.dictionary.Dictionary` from a ``dict.txt`` file."""
        from .dictionary import Dictionary

        return Dictionary.load(filename)

    def can_reuse_epoch_itr(self, dataset: Any) -> bool:
        """Whether an epoch iterator built for ``dataset`` may be returned again."""
        return getattr(dataset, "can_reuse_epoch_itr_across_epochs", False)

    def filter_indices_by_size(
        self,
        indices: np.ndarray,
        dataset: Any,
        max_positions: Any = None,
        ignore_invalid_inputs: bool = False,
    ) -> np.ndarray:
        """Drop examples larger than ``max_positions``, or raise naming the first when not ignoring."""
        from .errors import SeqlabError

        indices, ignored = dataset.filter_indices_by_size(indices, max_positions)
        if len(ignored) > 0:
            first = int(ignored[0])
            if not ignore_invalid_inputs:
                raise SeqlabError(
                    f"example {first} has size {dataset.size(first)}, more than the max positions "
                    f"{max_positions} ({len(ignored)} examples are too long); skip them with "
                    "--skip-invalid-size-inputs-valid-test or raise the task's max positions"
                )
            logger.warning(
                "%d examples are longer than max positions %s and are skipped; the first: %s",
                len(ignored),
                max_positions,
                ", ".join(str(int(i)) for i in ignored[:10]),
            )
        return indices

    def get_batch_iterator(
        self,
        dataset: Any,
        max_tokens: int | None = None,
        max_sentences: int | None = None,
        max_positions: Any = None,
        ignore_invalid_inputs: bool = False,
        required_batch_size_multiple: int = 1,
        seed: int = 1,
        num_shards: int = 1,
        shard_id: int = 0,
        num_workers: int = 0,
        epoch: int = 1,
        data_buffer_size: int = 0,
        disable_iterator_cache: bool = False,
        skip_remainder_batch: bool = False,
        update_epoch_batch_itr: bool = False,
    ) -> Any:
        """Return an :class:`~seqlab.core.data.EpochBatchIterator` over ``dataset``'s batches.

        Examples are ordered by ``dataset.ordered_indices()`` (seeded with ``seed``),
        filtered by ``max_positions``, grouped by ``max_tokens``/``max_sentences``,
        then shuffled per epoch and sharded by the iterator.
        """
        from .data import EpochBatchIterator, numpy_seed

        reuse = (
            not disable_iterator_cache and not update_epoch_batch_itr and self.can_reuse_epoch_itr(dataset)
        )
        if reuse and dataset in self.dataset_to_epoch_iter:
            return self.dataset_to_epoch_iter[dataset]
        if hasattr(dataset, "set_epoch"):
            dataset.set_epoch(epoch)
        with numpy_seed(seed):
            indices = dataset.ordered_indices()
        if max_positions is not None:
            indices = self.filter_indices_by_size(indices, dataset, max_positions, ignore_invalid_inputs)
        batches = dataset.batch_by_size(
            indices,
            max_tokens=max_tokens,
            max_sentences=max_sentences,
            required_batch_size_multiple=required_batch_size_multiple,
        )
        epoch_iter = EpochBatchIterator(
            dataset=dataset,
            collate_fn=dataset.collater,
            batch_sampler=batches,
            seed=seed,
            num_shards=num_shards,
            shard_id=shard_id,
            num_workers=num_workers,
            epoch=epoch,
            buffer_size=data_buffer_size,
            skip_remainder_batch=skip_remainder_batch,
        )
        if reuse:
            self.dataset_to_epoch_iter[dataset] = epoch_iter
        return epoch_iter

    def build_model(self, args: Any) -> Any:
        """Build the model chosen by ``--arch``."""
        from .builders import build_model

        return build_model(args, self)

    def build_criterion(self, args: Any) -> Any:
        """Build the criterion chosen by ``--criterion``."""
        from .builders import build_criterion

        return build_criterion(args, self)

    def train_step(
        self,
        sample: dict[str, Any],
        model: Any,
        criterion: Any,
        optimizer: Any,
        update_num: int,
        ignore_grad: bool = False,
    ) -> tuple[torch.Tensor, Any, dict[str, Any]]:
        """Forward and backward one mini-batch; return ``(loss, sample_size, logging_output)``."""
        model.train()
        model.set_num_updates(update_num)
        loss, sample_size, logging_output = criterion(model, sample)
        if ignore_grad:
            loss = loss * 0
        optimizer.backward(loss)
        return loss, sample_size, logging_output

    def valid_step(
        self, sample: dict[str, Any], model: Any, criterion: Any
    ) -> tuple[torch.Tensor, Any, dict[str, Any]]:
        """Evaluate one mini-batch without gradients."""
        model.eval()
        with torch.no_grad():
            return criterion(model, sample)

    def reduce_metrics(self, logging_outputs: list[dict[str, Any]], criterion: Any) -> None:
        """Aggregate logging outputs (the criterion's metrics by default)."""
        type(criterion).reduce_metrics(logging_outputs)

    def state_dict(self) -> dict[str, Any]:
        """What generation needs from this task, as plain data (dictionaries, tokenizer model).

        Stored in every checkpoint as ``task_state`` so that a checkpoint is self-contained.
        """
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""

    @classmethod
    def setup_task_from_state(cls, args: Any, state: dict[str, Any]) -> Task:
        """Build the task from a checkpoint's ``task_state`` alone (no data directory needed).

        Tasks whose constructor needs more than ``args`` (dictionaries) override this.
        """
        task = cls(args)
        task.load_state_dict(state)
        return task

    def begin_epoch(self, epoch: int, model: Any) -> None:
        """Hook called at the start of each training epoch."""

    def begin_valid_epoch(self, epoch: int, model: Any) -> None:
        """Hook called before each validation."""

    def max_positions(self) -> Any:
        """The longest inputs the task's data may hold (None: no limit)."""
        return None

    @property
    def source_dictionary(self) -> Any:
        """The source-side :class:`Dictionary` (None when there is none)."""
        return None

    @property
    def target_dictionary(self) -> Any:
        """The target-side :class:`Dictionary`."""
        return None
