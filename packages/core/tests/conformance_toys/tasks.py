"""A copy task on generated sentences, and a variant whose batches miscount their tokens."""

from dataclasses import dataclass, field

import numpy as np
import torch

from seqlab.core import Task, register_task
from seqlab.core.data import BaseDataset, collate_tokens
from seqlab.core.dictionary import Dictionary


class CopyDataset(BaseDataset):
    def __init__(self, dictionary, n, seed):
        g = torch.Generator().manual_seed(seed)
        self.dictionary = dictionary
        lengths = torch.randint(2, 9, (n,), generator=g).tolist()
        self.items = [torch.randint(dictionary.nspecial, len(dictionary), (k,), generator=g) for k in lengths]
        for item in self.items:
            item[-1] = dictionary.eos()
        self._sizes = np.array(lengths, dtype=np.int64)

    def __getitem__(self, index):
        return {"id": index, "tokens": self.items[index]}

    def __len__(self):
        return len(self.items)

    def num_tokens(self, index):
        return int(self._sizes[index])

    def size(self, index):
        return int(self._sizes[index])

    @property
    def sizes(self):
        return self._sizes

    def ordered_indices(self):
        return np.argsort(self._sizes, kind="mergesort")

    def collater(self, samples):
        if not samples:
            return {}
        pad, eos = self.dictionary.pad(), self.dictionary.eos()
        tokens = [s["tokens"] for s in samples]
        target = collate_tokens(tokens, pad)
        return {
            "id": torch.tensor([s["id"] for s in samples]),
            "nsentences": len(samples),
            "ntokens": self.count_tokens(target),
            "net_input": {
                "src_tokens": collate_tokens(tokens, pad, left_pad=True),
                "src_lengths": torch.tensor([len(t) for t in tokens]),
                "prev_output_tokens": collate_tokens(tokens, pad, eos, move_eos_to_beginning=True),
            },
            "target": target,
        }

    def count_tokens(self, target):
        return int(target.ne(self.dictionary.pad()).sum())


class MiscountingDataset(CopyDataset):
    def count_tokens(self, target):
        return target.numel()


@dataclass
class ToyCopyConfig:
    examples: int = field(default=40, metadata={"help": "sentences per split"})


@register_task("toy_copy", dataclass=ToyCopyConfig)
class ToyCopyTask(Task):
    dataset_class = CopyDataset

    def __init__(self, args):
        super().__init__(args)
        self.dictionary = Dictionary()
        for i in range(12):
            self.dictionary.add_symbol(f"w{i}")

    def load_dataset(self, split, combine=False, epoch=1, **kwargs):
        seed = {"train": 1, "valid": 2}.get(split, 3)
        self.datasets[split] = self.dataset_class(self.dictionary, self.args.examples, seed)

    def state_dict(self):
        return {"symbols": list(self.dictionary.symbols)}

    @property
    def source_dictionary(self):
        return self.dictionary

    @property
    def target_dictionary(self):
        return self.dictionary


@register_task("toy_copy_miscounted", dataclass=ToyCopyConfig)
class ToyCopyMiscounted(ToyCopyTask):
    """Breaks: ntokens counts the padding too."""

    dataset_class = MiscountingDataset


@register_task("toy_copy_without_state", dataclass=ToyCopyConfig)
class ToyCopyWithoutState(ToyCopyTask):
    """Breaks: set up from its data only, it cannot be rebuilt from a checkpoint's task_state."""

    def __init__(self, args, dictionary):
        Task.__init__(self, args)
        self.dictionary = dictionary

    @classmethod
    def setup_task(cls, args, **kwargs):
        return cls(args, ToyCopyTask(args).dictionary)

    def state_dict(self):
        return {}
