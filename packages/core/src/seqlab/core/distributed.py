"""Data-parallel glue on ``torch.distributed``: ranks come from torchrun's environment."""

from __future__ import annotations

import datetime
import gc
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

    def init(self, device: torch.device, timeout_s: int = -1) -> None:
        """Join the process group: NCCL on GPUs, gloo on CPU; collectives fail after ``timeout_s`` (> 0)."""
        if self.is_distributed and not dist.is_initialized():
            # torch.distributed.nn (imported by DDP) binds the default group into its functions'
            # default arguments when first imported; imported before the group exists, it binds
            # None, so the group can be freed at shutdown instead of living into interpreter exit,
            # where gloo's threads may abort the process ("terminate called without an active
            # exception")
            import torch.distributed.nn  # noqa: F401

            timeout = datetime.timedelta(seconds=timeout_s) if timeout_s > 0 else None
            dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo", timeout=timeout)

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
        """Leave the process group; call it once the models and optimizers that use it are dropped."""
        if self.is_distributed and dist.is_initialized():
            gc.collect()  # modules and optimizers the caller dropped may sit in cycles that hold the group
            dist.destroy_process_group()


#: how gloo, NCCL and the store word a peer that died or stopped answering
_PEER_GONE = ("by peer", "Broken pipe", "Read error", "Timed out", "timed out", "timeout", "aborted")


def is_peer_failure(exc: BaseException) -> bool:
    """Whether an error means that another rank died or stopped answering, not a bug of this one."""
    if isinstance(exc, (dist.DistNetworkError, dist.DistStoreError)):
        return True
    return isinstance(exc, RuntimeError) and any(marker in str(exc) for marker in _PEER_GONE)


def peer_failure_message(ctx: DistributedContext, num_updates: int, exc: BaseException) -> str:
    """The one line a surviving rank reports when it lost the others."""
    first = next((line.strip() for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
    return (
        f"rank {ctx.rank} lost contact with the other ranks at update {num_updates + 1} ({first}); "
        "stopping. Another rank crashed, was killed or stopped answering: its own output says why. "
        "Resume with the same command once every rank can run (--heartbeat-timeout N bounds the wait "
        "for a rank that hangs)"
    )


def launch_local_workers(nproc: int, module: str, argv: list[str]) -> int:
    """Start ``nproc`` ranks of ``python -m module argv`` on this machine with torch's own launcher."""
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import get_args_parser, run

    from .errors import SeqlabError

    args = get_args_parser().parse_args(
        ["--standalone", "--nnodes", "1", "--nproc-per-node", str(nproc), "--module", module, *argv]
    )
    try:
        run(args)
    except ChildFailedError as exc:
        rank, failure = exc.get_first_failure()
        if failure.exitcode < 0:
            how = f"was killed by {failure.signal_name()}"
        else:
            how = f"exited with status {failure.exitcode}"
        raise SeqlabError(
            f"rank {rank} of {nproc} {how}; every rank was stopped (the output above says why)"
        ) from exc
    return 0
