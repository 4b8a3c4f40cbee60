"""Wrap a model for data-parallel training: DDP (``c10d``) or FSDP2 (``fully_sharded``)."""

from __future__ import annotations

import contextlib
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from .distributed import DistributedContext


class _ForwardingDDP(DistributedDataParallel):
    """DDP that forwards unknown attributes (``get_normalized_probs``, ...) to the wrapped model."""

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self.module, name)


def wrap_model(
    model: nn.Module,
    backend: str,
    ctx: DistributedContext,
    device: torch.device,
    find_unused_parameters: bool = False,
) -> nn.Module:
    """Return the module that runs forward passes in training (the model itself with one worker)."""
    if not ctx.is_distributed:
        return model
    if backend == "fully_sharded":
        from torch.distributed.fsdp import fully_shard

        for module in list(model.modules()):
            if isinstance(module, nn.ModuleList):
                for layer in module:
                    fully_shard(layer)
        # the root too must reshard after a forward pass without backward (validation), or the
        # unsharded parameters no longer match the optimizer's
        fully_shard(model, reshard_after_forward=True)
        return model
    device_ids = [device.index] if device.type == "cuda" else None
    # a model whose steps may leave parameters without a gradient (LayerDrop) says so
    unused = find_unused_parameters or bool(getattr(model, "find_unused_parameters", False))
    return _ForwardingDDP(model, device_ids=device_ids, find_unused_parameters=unused)


def is_sharded(model: nn.Module) -> bool:
    """Whether ``model`` was sharded with FSDP2."""
    from torch.distributed.fsdp import FSDPModule

    return isinstance(model, FSDPModule)


@contextlib.contextmanager
def gradient_sync(wrapped: nn.Module, enabled: bool):
    """Skip the gradient all-reduce inside the block unless ``enabled`` (accumulation micro-batches)."""
    if enabled:
        yield
    elif isinstance(wrapped, DistributedDataParallel):
        with wrapped.no_sync():
            yield
    elif is_sharded(wrapped):
        wrapped.set_requires_gradient_sync(False)
        try:
            yield
        finally:
            wrapped.set_requires_gradient_sync(True)
    else:
        yield


def full_model_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """The whole model's state dict on CPU, gathered from shards when sharded."""
    if is_sharded(model):
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

        return get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
    return {k: v.detach().cpu() if v.is_cuda else v.detach() for k, v in model.state_dict().items()}


def load_full_model_state(model: nn.Module, state: dict[str, torch.Tensor], strict: bool = True) -> None:
    """Load a whole-model state dict, scattering it to shards when sharded."""
    if is_sharded(model):
        from torch.distributed.checkpoint.state_dict import StateDictOptions, set_model_state_dict

        set_model_state_dict(model, state, options=StateDictOptions(full_state_dict=True, strict=strict))
        return
    model.load_state_dict(state, strict=strict)


def full_optimizer_state(model: nn.Module, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """The optimizer's state dict, gathered from shards when sharded."""
    if is_sharded(model):
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_optimizer_state_dict

        return get_optimizer_state_dict(
            model, optimizer, options=StateDictOptions(full_state_dict=True, cpu_offload=True)
        )
    return optimizer.state_dict()


def load_full_optimizer_state(
    model: nn.Module, optimizer: torch.optim.Optimizer, state: dict[str, Any]
) -> None:
    """Load a full optimizer state dict, scattering it to shards when sharded."""
    if is_sharded(model):
        from torch.distributed.checkpoint.state_dict import StateDictOptions, set_optimizer_state_dict

        set_optimizer_state_dict(model, optimizer, state, options=StateDictOptions(full_state_dict=True))
        return
    optimizer.load_state_dict(state)
