"""Data-parallel glue on ``torch.distributed``: ranks come from torchrun's environment."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistributedContext:
    """This process's place among the data-parallel workers."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @classmethod
    def from_env(cls) -> DistributedContext:
        """Read ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK`` as torchrun sets them (one worker without)."""
        return cls(
            rank=int(os.environ.get("RANK", 0)),
            world_size=int(os.environ.get("WORLD_SIZE", 1)),
            local_rank=int(os.environ.get("LOCAL_RANK", 0)),
        )

    @property
    def is_master(self) -> bool:
        """Whether this worker writes checkpoints and logs."""
        return self.rank == 0

    @property
    def is_distributed(self) -> bool:
        """Whether there is more than one worker."""
        return self.world_size > 1

    def init(self, device: torch.device) -> None:
        """Join the process group: NCCL on GPUs, gloo on CPU."""
        if self.is_distributed and not dist.is_initialized():
            dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")

    def all_reduce_sum(self, tensor: torch.Tensor) -> torch.Tensor:
        """Sum a tensor over every worker, in place."""
        if self.is_distributed:
            dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        return tensor

    def all_gather_object(self, obj: Any) -> list[Any]:
        """Gather one picklable object from every worker."""
        if not self.is_distributed:
            return [obj]
        out: list[Any] = [None] * self.world_size
        dist.all_gather_object(out, obj)
        return out

    def broadcast_object(self, obj: Any) -> Any:
        """Return rank 0's ``obj`` on every worker."""
        if not self.is_distributed:
            return obj
        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def barrier(self) -> None:
        """Wait for every worker."""
        if self.is_distributed:
            dist.barrier()

    def shutdown(self) -> None:
        """Leave the process group."""
        if self.is_distributed and dist.is_initialized():
            dist.destroy_process_group()


def launch_local_workers(nproc: int, module: str, argv: list[str]) -> int:
    """Start ``nproc`` ranks of ``python -m module argv`` on this machine with torch's own launcher."""
    from torch.distributed.run import get_args_parser, run

    args = get_args_parser().parse_args(
        ["--standalone", "--nnodes", "1", "--nproc-per-node", str(nproc), "--module", module, *argv]
    )
    run(args)
    return 0
