"""Prompts for a language model: token sequences to continue, batched like monolingual data."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from seqlab.core.data import collate_tokens

from ..data.sized_dataset import SizedDataset


class PromptDataset(SizedDataset):
    """Already encoded prompts (no ``</s>``); a batch's ``src_tokens`` are right-padded prompts."""

    def __init__(self, prompts: Sequence[torch.Tensor], sizes: Sequence[int], pad: int) -> None:
        self.prompts = [torch.as_tensor(p, dtype=torch.long) for p in prompts]
        self._sizes = np.asarray(sizes, dtype=np.int64)
        self.pad = pad

    def __getitem__(self, index: int) -> dict[str, Any]:
        return {"id": index, "source": self.prompts[index]}

    def __len__(self) -> int:
        return len(self.prompts)

    def collater(self, samples: list[dict[str, Any]]) -> dict[str, Any]:
        """``id``, ``nsentences``, ``ntokens`` and ``net_input.src_tokens``/``src_lengths``; no target."""
        if not samples:
            return {}
        sources = [s["source"] for s in samples]
        if max(len(s) for s in sources) == 0:
            src_tokens = torch.empty(len(samples), 0, dtype=torch.long)
        else:
            src_tokens = collate_tokens(sources, self.pad, left_pad=False)
        lengths = torch.tensor([len(s) for s in sources], dtype=torch.long)
        return {
            "id": torch.tensor([s["id"] for s in samples], dtype=torch.long),
            "nsentences": len(samples),
            "ntokens": int(lengths.sum()),
            "net_input": {"src_tokens": src_tokens, "src_lengths": lengths},
            "target": None,
        }
