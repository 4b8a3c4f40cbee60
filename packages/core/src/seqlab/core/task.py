"""Task base class (fairseq's ``FairseqTask`` contract): data, model, criterion and steps."""

from __future__ import annotations

from typing import Any

import torch

from .plugin_base import PluginOptions


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
