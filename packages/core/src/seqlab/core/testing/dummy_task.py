"""A task with dictionaries and no data files: enough for models and criterions to build."""

from __future__ import annotations

import argparse
from typing import Any

from ..dictionary import Dictionary
from ..task import Task


def dummy_dictionary(size: int = 24) -> Dictionary:
    """Return a Dictionary of ``size`` symbols: the four special ones, then ``w0``, ``w1``, ..."""
    d = Dictionary()
    if size <= d.nspecial:
        raise ValueError(f"a dummy dictionary needs more than {d.nspecial} symbols, got {size}")
    for i in range(size - d.nspecial):
        d.add_symbol(f"w{i}")
    return d


class DummyTask(Task):
    """Holds a source and a target dictionary; loads no data.

    The two dictionaries differ in size by default, so a model that sizes its output
    layer from the source dictionary fails the shape checks.
    """

    def __init__(
        self,
        args: Any = None,
        source_dictionary: Dictionary | None = None,
        target_dictionary: Dictionary | None = None,
    ) -> None:
        super().__init__(args if args is not None else argparse.Namespace())
        self.src_dict = source_dictionary if source_dictionary is not None else dummy_dictionary(30)
        self.tgt_dict = target_dictionary if target_dictionary is not None else dummy_dictionary(22)

    @classmethod
    def for_language_model(cls, size: int = 26) -> DummyTask:
        """A task whose source and target are one dictionary, as a language model's are."""
        d = dummy_dictionary(size)
        return cls(source_dictionary=d, target_dictionary=d)

    def load_dataset(self, split: str, combine: bool = False, epoch: int = 1, **kwargs: Any) -> None:
        """A dummy task has no data; the checks make their batches with :mod:`.batches`."""
        raise NotImplementedError("DummyTask holds no data; build batches with seqlab.core.testing.batches")

    @property
    def source_dictionary(self) -> Dictionary:
        """The source-side dictionary."""
        return self.src_dict

    @property
    def target_dictionary(self) -> Dictionary:
        """The target-side dictionary."""
        return self.tgt_dict
