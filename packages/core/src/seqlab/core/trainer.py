"""The Trainer: one update from ``--update-freq`` micro-batches, as DESIGN §4 describes.

Per update: forward/backward each micro-batch (gradient sync only on the last),
sum ``sample_size`` and logging outputs over workers, scale the summed gradients
by ``world_size / sample_size`` (data-parallel reduction averages over workers),
clip, step (skipped on fp16 overflow), then ``lr_scheduler.step_update``.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import torch

from . import metrics
from .builders import build_lr_scheduler, build_optimizer
from .checkpoint_io import load_checkpoint_file
from .compilation import compile_errors, compile_model
from .distributed import DistributedContext
from .errors import ConfigError, SeqlabError
from .model_wrapping import (
    full_model_state,
    full_optimizer_state,
    gradient_sync,
    is_sharded,
    load_full_model_state,
    load_full_optimizer_state,
    wrap_model,
)
from .precision import Precision
from .rng import torch_seed
from .utils import move_to_device
from .weight_average import WeightAverage

logger = logging.getLogger(__name__)

#: the rate meters of every update: name, priority in the log line, rounding
SPEED_METERS = (("wps", 90, 1), ("ups", 100, 2))


def select_device(args: Any, ctx: DistributedContext) -> torch.device:
    """CUDA (this worker's GPU) when present and not ``--cpu``, else the CPU."""
    if torch.cuda.is_available() and not getattr(args, "cpu", False):
        torch.cuda.set_device(ctx.local_rank)
        return torch.device("cuda", ctx.local_rank)
    return torch.device("cpu")


class Trainer:
    """Owns the model, criterion, optimizer, lr scheduler and precision; runs train and valid steps."""

    def __init__(
        self,
        args: Any,
        task: Any,
        model: torch.nn.Module,
        criterion: torch.nn.Module,
        ctx: DistributedContext | None = None,
    ) -> None:
        self.args = args
        self.task = task
        self.dist = ctx or DistributedContext.from_env()
        self.device = select_device(args, self.dist)
        self.dist.init(self.device, int(getattr(args, "heartbeat_timeout", -1)))
        self.model = model.to(self.device)
        self.criterion = criterion.to(self.device)
        self.wrapped_model = wrap_model(
            self.model,
            getattr(args, "ddp_backend", "c10d"),
            self.dist,
            self.device,
            find_unused_parameters=bool(getattr(args, "find_unused_parameters", False)),
        )
        self.compiled = bool(getattr(args, "compile", False))
        if self.compiled:  # after wrapping, so that DDP's compiled graphs overlap the gradient sync
            compile_model(self.wrapped_model, self.device, self.model)
        self.precision = Precision(args, self.device)
        self.num_updates = 0
        self.ema = self._build_ema(args)
        self._optimizer: Any = None
        self._lr_scheduler: Any = None
        self._dummy_batch: dict[str, Any] | None = None

    # -- construction ------------------------------------------------------------------------------
    @property
    def optimizer(self) -> Any:
        """The optimizer plugin, built on first use over the trainable parameters."""
        if self._optimizer is None:
            params = [p for p in self.model.parameters() if p.requires_grad]
            self._optimizer = build_optimizer(self.args, params)
            self._optimizer.grad_scaler = self.precision.scaler
        return self._optimizer

    @property
    def lr_scheduler(self) -> Any:
        """The lr scheduler plugin, built on first use (and stepped to update 0, as fairseq does)."""
        if self._lr_scheduler is None:
            self._lr_scheduler = build_lr_scheduler(self.args, self.optimizer)
            self._lr_scheduler.step_update(0)
        return self._lr_scheduler

    # -- one update --------------------------------------------------------------------------------
    def train_step(self, samples: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
        """Run one update over micro-batches; return the logging outputs, or None if it was skipped."""
        self.model.train()
        self.criterion.train()
        self.optimizer.zero_grad()
        logging_outputs: list[dict[str, Any]] = []
        sample_size = 0.0
        batch_ids: list[torch.Tensor] = []
        for i, raw in enumerate(samples):
            sample, is_dummy = self._prepare(raw)
            last = i == len(samples) - 1
            try:
                with (
                    gradient_sync(self.wrapped_model, last),
                    torch_seed(self.args.seed, self.num_updates, self._micro_index(i)),
                    compile_errors(self.compiled),
                ):
                    with self.precision.autocast():
                        _, size, log = self.task.train_step(
                            sample,
                            self.wrapped_model,
                            self.criterion,
                            self.optimizer,
                            self.num_updates,
                            ignore_grad=is_dummy,
                        )
            except torch.cuda.OutOfMemoryError:
                return self._out_of_memory(sample)
            if not is_dummy:
                logging_outputs.append(log)
                sample_size += float(size)
                if "id" in sample:
                    batch_ids.append(sample["id"].detach().cpu())

        logging_outputs, sample_size = self._reduce(logging_outputs, sample_size)
        self.precision.unscale_(self.optimizer)
        if sample_size > 0:
            self.optimizer.multiply_grads(self.dist.world_size / sample_size)
        grad_norm = self.optimizer.clip_grad_norm(float(getattr(self.args, "clip_norm", 0.0)))
        self._check_finite(logging_outputs, grad_norm, batch_ids)
        if not self.precision.step(self.optimizer):
            logger.info(
                "fp16 gradient overflow at update %d; loss scale lowered to %s",
                self.num_updates + 1,
                self.precision.loss_scale,
            )
            self.optimizer.zero_grad()
            return None
        self.num_updates += 1
        if self.ema is not None:
            self.ema.step(self.num_updates)
        lr = self.lr_scheduler.step_update(self.num_updates)
        self._log_update(logging_outputs, grad_norm, lr)
        return logging_outputs

    def valid_step(self, raw: dict[str, Any]) -> list[dict[str, Any]]:
        """Evaluate one batch without gradients; return the logging outputs summed over workers."""
        sample, is_dummy = self._prepare(raw)
        with torch.no_grad(), self.precision.autocast(), compile_errors(self.compiled):
            _, size, log = self.task.valid_step(sample, self.wrapped_model, self.criterion)
        outputs, _ = self._reduce([] if is_dummy else [log], 0.0 if is_dummy else float(size))
        return outputs

    def lr_step(self, epoch: int, val_loss: float | None = None) -> float:
        """End-of-epoch lr schedule step."""
        return self.lr_scheduler.step(epoch, val_loss)

    def lr_step_begin_epoch(self, epoch: int) -> float:
        """Start-of-epoch lr schedule step."""
        return self.lr_scheduler.step_begin_epoch(epoch)

    def get_lr(self) -> float:
        """The current learning rate."""
        return self.optimizer.get_lr()

    # -- state ---------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Model, optimizer, scheduler and scaler state (gathered from shards when sharded)."""
        if is_sharded(self.model):
            optimizer_state = full_optimizer_state(self.model, self.optimizer.optimizer)
        else:
            optimizer_state = self.optimizer.state_dict()
        return {
            "model": full_model_state(self.model),
            "optimizer": optimizer_state,
            "lr_scheduler": self.lr_scheduler.state_dict(),
            "scaler": self.precision.state_dict(),
            "num_updates": self.num_updates,
            "ema": None if self.ema is None else self.ema.state_dict(),
        }

    def load_state_dict(
        self, state: dict[str, Any], reset_optimizer: bool = False, reset_lr_scheduler: bool = False
    ) -> None:
        """Restore what :meth:`state_dict` returned (parts can be reset)."""
        load_full_model_state(self.model, state["model"])
        if not reset_optimizer and state.get("optimizer") is not None:
            if is_sharded(self.model):
                load_full_optimizer_state(self.model, self.optimizer.optimizer, state["optimizer"])
            else:
                self.optimizer.load_state_dict(state["optimizer"])
            self.precision.load_state_dict(state.get("scaler"))
        if not reset_lr_scheduler and state.get("lr_scheduler") is not None:
            self.lr_scheduler.load_state_dict(state["lr_scheduler"])
        self.num_updates = int(state.get("num_updates", 0))
        self.lr_scheduler.step_update(self.num_updates)
        if self.ema is not None:
            if state.get("ema") is not None:
                self.ema.load_state_dict(state["ema"])
            else:  # as fairseq does: the average starts from the loaded weights
                logger.warning("--store-ema: the checkpoint holds no average; it starts from its weights")
                self.ema = self._build_ema(self.args)

    def start_speed_meters(self) -> None:
        """Start the clocks of the rate meters (``wps``, ``ups``) in the active aggregators.

        A meter first made by an update's end would time nothing of that update, and the first
        logged interval would show absurd rates.
        """
        for key, priority, digits in SPEED_METERS:
            metrics.log_speed(key, 0, priority=priority, round=digits)

    # -- helpers -------------------------------------------------------------------------------------
    def _build_ema(self, args: Any) -> WeightAverage | None:
        if not getattr(args, "store_ema", False):
            return None
        if is_sharded(self.model):
            raise ConfigError(
                "--store-ema keeps a whole copy of the weights; it does not work with fully_sharded"
            )
        average = WeightAverage(
            self.model,
            float(args.ema_decay),
            int(getattr(args, "ema_start_update", 0)),
            int(getattr(args, "ema_update_freq", 1)),
        )
        seed = getattr(args, "ema_seed_model", None)
        if seed:  # as fairseq: the average starts from the seed checkpoint's average
            seeded = load_checkpoint_file(seed).get("ema")
            if seeded is None:
                raise ConfigError(
                    f"--ema-seed-model {seed} holds no moving average; give a checkpoint of a run with --store-ema"
                )
            average.load_state_dict(seeded)
        return average

    def _micro_index(self, i: int) -> int:
        # The position of this micro-batch among all workers' batches of the update, so that
        # W workers x F micro-batches draw the same dropout as one worker with W*F micro-batches.
        return i * self.dist.world_size + self.dist.rank

    def _prepare(self, sample: dict[str, Any] | None) -> tuple[dict[str, Any], bool]:
        # A worker short of batches gets an empty one; it runs the first real batch with its
        # gradient zeroed, so that every worker joins the same gradient all-reduce.
        if not sample:
            if self._dummy_batch is None:
                raise SeqlabError("this worker's first batch is empty: there are fewer batches than workers")
            return self._dummy_batch, True
        sample = move_to_device(sample, self.device) if self.device.type != "cpu" else sample
        if self._dummy_batch is None:
            self._dummy_batch = sample
        return sample, False

    def _reduce(
        self, outputs: list[dict[str, Any]], sample_size: float
    ) -> tuple[list[dict[str, Any]], float]:
        if not self.dist.is_distributed:
            return outputs, sample_size
        if self.criterion.logging_outputs_can_be_summed():
            local = _sum_logs(outputs)
            gathered = self.dist.all_gather_object((local, sample_size))
            return [_sum_logs([g[0] for g in gathered])], sum(g[1] for g in gathered)
        gathered = self.dist.all_gather_object((outputs, sample_size))
        return [log for g in gathered for log in g[0]], sum(g[1] for g in gathered)

    def _check_finite(
        self, outputs: list[dict[str, Any]], grad_norm: torch.Tensor, batch_ids: list[torch.Tensor]
    ) -> None:
        if self.precision.scaler is not None:
            return  # overflows are the scaler's to handle
        loss = sum(float(o.get("loss", 0.0)) for o in outputs)
        if math.isfinite(loss) and bool(torch.isfinite(grad_norm)):
            return
        ids = torch.cat(batch_ids).tolist() if batch_ids else []
        shown = ", ".join(map(str, ids[:20])) + (" ..." if len(ids) > 20 else "")
        raise SeqlabError(
            f"non-finite loss ({loss}) or gradient norm ({float(grad_norm)}) at update {self.num_updates + 1} "
            f"in the batch with example ids [{shown}]; lower --lr, set --clip-norm, or check those examples"
        )

    def _out_of_memory(self, sample: dict[str, Any]) -> None:
        tokens = sample.get("net_input", {}).get("src_tokens")
        shape = tuple(tokens.shape) if tokens is not None else "?"
        message = f"CUDA out of memory at update {self.num_updates + 1} on a batch of shape {shape}"
        if not getattr(self.args, "skip_oom", False):
            raise SeqlabError(f"{message}; lower --max-tokens or --batch-size, or pass --skip-oom")
        logger.warning("%s; skipped (--skip-oom)", message)
        self.optimizer.zero_grad()
        torch.cuda.empty_cache()
        return None

    def _log_update(self, outputs: list[dict[str, Any]], grad_norm: torch.Tensor, lr: float) -> None:
        self.task.reduce_metrics(outputs, self.criterion)
        ntokens = sum(float(o.get("ntokens", 0)) for o in outputs)
        nsentences = sum(float(o.get("nsentences", 0)) for o in outputs)
        for (key, priority, digits), count in zip(SPEED_METERS, (ntokens, 1.0)):
            metrics.log_speed(key, count, priority=priority, round=digits)
        metrics.log_scalar("wpb", ntokens, priority=180, round=1)
        metrics.log_scalar("bsz", nsentences, priority=190, round=1)
        metrics.log_scalar("lr", lr, priority=300)
        metrics.log_scalar("gnorm", float(grad_norm), priority=400, round=3)
        clip = float(getattr(self.args, "clip_norm", 0.0))
        if clip > 0:
            metrics.log_scalar("clip", 100.0 if float(grad_norm) > clip else 0.0, priority=500, round=1)
        if self.precision.loss_scale is not None:
            metrics.log_scalar("loss_scale", self.precision.loss_scale, priority=700, round=4)


def _sum_logs(outputs: list[dict[str, Any]]) -> dict[str, float]:
    total: dict[str, float] = {}
    for log in outputs:
        for key, value in log.items():
            total[key] = total.get(key, 0.0) + float(value)
    return total
