"""The training flow of DESIGN §4: epochs of updates, validation, checkpoints, stopping."""

from __future__ import annotations

import logging
import math
import signal
import time
from typing import Any

import torch

from . import metrics
from .builders import setup_task
from .checkpoints import Checkpoints, ResumeState
from .distributed import DistributedContext, is_peer_failure, peer_failure_message
from .errors import SeqlabError
from .launcher_watch import stop_when_launcher_exits
from .options import ResolvedConfig
from .progress import Progress, default_format, setup_logging
from .rng import rng_state, set_rng_state, set_seed
from .trainer import Trainer
from .utils import resolve_max_positions

logger = logging.getLogger("seqlab.train")


class StopFlag:
    """Set by SIGTERM/SIGINT; the loop saves ``checkpoint_last.pt`` at the next update boundary."""

    def __init__(self) -> None:
        self.signal_name: str | None = None

    def install(self) -> None:
        """Catch SIGTERM and SIGINT."""
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._handle)

    def _handle(self, signum: int, frame: Any) -> None:
        self.signal_name = signal.Signals(signum).name

    def __bool__(self) -> bool:
        return self.signal_name is not None


def summarize(args: Any, task: Any, model: Any, criterion: Any) -> list[str]:
    """The start-of-run summary: task, model, criterion, optimizer and parameter counts."""
    total = sum(p.numel() for p in model.parameters())
    trained = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return [
        f"task: {type(task).__name__} ({args.task})",
        f"model: {type(model).__name__} (--arch {args.arch})",
        f"criterion: {type(criterion).__name__} ({args.criterion})",
        f"optimizer: {args.optimizer}, lr scheduler: {args.lr_scheduler}",
        f"num. model params: {total:,} (num. trained: {trained:,})",
    ]


def plugin_provenance(config: ResolvedConfig) -> dict[str, Any]:
    """The chosen plugins with the distribution or user dir each came from, as plain data."""
    return {
        dest: {"kind": plugin.kind, "name": plugin.name, **plugin.provenance()}
        for dest, plugin in config.plugins.items()
    }


def run_training(config: ResolvedConfig) -> int:
    """Train as configured; return the process exit code."""
    ctx = DistributedContext.from_env()
    if ctx.is_distributed:
        stop_when_launcher_exits()
    code = _train(config, ctx)
    # The model, its DDP wrapper and the optimizer hold the process group. With _train's frame
    # and everything it built gone, shutdown frees the group while Python still runs; alive at
    # interpreter exit, gloo's threads can abort the process. (FSDP2's sharded modules stay
    # alive through torch's own autograd hooks: see docs/troubleshooting.md.)
    ctx.shutdown()
    return code


def _train(config: ResolvedConfig, ctx: DistributedContext) -> int:
    """Build the task, model, criterion and trainer, and run the training loop; return the exit code."""
    args = config.args
    setup_logging(args.log_file, ctx.is_master)
    if args.max_tokens is None and args.batch_size is None:
        raise SeqlabError("set a batch size with --max-tokens N or --batch-size N")
    set_seed(args.seed)
    task = setup_task(args)
    model = task.build_model(args)
    criterion = task.build_criterion(args)
    for line in summarize(args, task, model, criterion):
        logger.info(line)
    if args.dry_run:
        scheduler = Trainer(args, task, model, criterion, ctx).lr_scheduler  # builds the optimizer too
        logger.info(
            "--dry-run: everything builds (lr %s); nothing trained or written", scheduler.optimizer.get_lr()
        )
        return 0

    trainer = Trainer(args, task, model, criterion, ctx)
    checkpoints = Checkpoints(args, config.to_dict(), plugin_provenance(config), ctx)
    resume = checkpoints.restore(trainer)
    loop = TrainingLoop(args, task, trainer, checkpoints, resume)
    try:
        return loop.run()
    except RuntimeError as exc:  # torch's distributed errors are RuntimeErrors too
        if ctx.is_distributed and is_peer_failure(exc):
            raise SeqlabError(peer_failure_message(ctx, trainer.num_updates, exc)) from exc
        raise


class TrainingLoop:
    """Epochs until ``--max-epoch``/``--max-update``/``--stop-time-hours``/patience or a signal."""

    def __init__(self, args: Any, task: Any, trainer: Trainer, checkpoints: Checkpoints, resume: ResumeState):
        self.args, self.task, self.trainer, self.checkpoints = args, task, trainer, checkpoints
        self.fmt = default_format(args.log_format)
        self.master = trainer.dist.is_master
        self.stop = StopFlag()
        self.started = time.time() - resume.train_wall
        self.valid_subsets = [] if args.disable_validation else [s for s in args.valid_subset.split(",") if s]
        for subset in self.valid_subsets:
            task.load_dataset(subset, combine=False, epoch=1)
        self.epoch_itr = self._train_iterator(resume.epoch)
        if resume.iterator:
            self.epoch_itr.load_state_dict(resume.iterator)

    def run(self) -> int:
        """Run the epochs; return 0 (a signal saves and stops cleanly too)."""
        self.stop.install()
        max_epoch = self.args.max_epoch or math.inf
        lr = self.trainer.get_lr()
        interrupted = False
        while self.epoch_itr.next_epoch_idx <= max_epoch:
            if lr <= self.args.stop_min_lr:
                logger.info("lr %s reached --stop-min-lr %s: stopping", lr, self.args.stop_min_lr)
                break
            if self.args.max_update and self.trainer.num_updates >= self.args.max_update:
                # a run stopped at --max-update, then resumed, must not train one update more
                logger.info("already at --max-update %d: nothing to train", self.args.max_update)
                break
            should_stop, interrupted = self.train_epoch()
            if should_stop:
                break
            lr = self.trainer.get_lr()
            self.epoch_itr = self._train_iterator(self.epoch_itr.next_epoch_idx)
        if interrupted and self.args.no_last_checkpoints:
            logger.info(
                "received %s: stopped at update %d (--no-last-checkpoints: no checkpoint to resume from)",
                self.stop.signal_name,
                self.trainer.num_updates,
            )
        elif interrupted:
            logger.info(
                "received %s: saved checkpoint_last.pt at update %d; run the same command to resume",
                self.stop.signal_name,
                self.trainer.num_updates,
            )
        logger.info("done training in %.1f seconds", time.time() - self.started)
        return 0

    def train_epoch(self) -> tuple[bool, bool]:
        """One epoch of updates with interval logging, validation and saving; return whether to stop
        and whether a signal stopped it."""
        a = self.args
        epoch = self.epoch_itr.next_epoch_idx
        update_freq = a.update_freq[min(epoch, len(a.update_freq)) - 1]
        itr = self.epoch_itr.next_epoch_itr(shuffle=epoch > a.curriculum)  # --curriculum: in order first
        from .data.iterators import GroupedIterator

        grouped = GroupedIterator(itr, update_freq)
        progress = Progress(
            grouped,
            self.fmt,
            epoch=self.epoch_itr.epoch,
            tensorboard_logdir=a.tensorboard_logdir,
            enabled=self.master,
        )
        if itr.n == 0:  # a run resumed inside the epoch restored the lr its next update uses
            self.trainer.lr_step_begin_epoch(self.epoch_itr.epoch)
        self.task.begin_epoch(self.epoch_itr.epoch, self.trainer.model)
        should_stop = interrupted = False
        with metrics.aggregate("train") as epoch_meters:
            with metrics.aggregate("train_inner"):
                self.trainer.start_speed_meters()
            for samples in progress:
                with metrics.aggregate("train_inner"):
                    outputs = self.trainer.train_step(samples)
                updates = self.trainer.num_updates
                if outputs is not None and updates % a.log_interval == 0:
                    progress.log(self._stats("train_inner"), tag="train_inner", step=updates)
                    metrics.reset_meters("train_inner")
                end_of_epoch = not itr.has_next()
                should_stop, interrupted = self.validate_and_save(end_of_epoch)
                if should_stop:
                    break
            stats = self._stats_of(epoch_meters)
        progress.print(stats, tag="train", step=self.trainer.num_updates)
        metrics.reset_meters("train")
        return should_stop, interrupted

    def validate_and_save(self, end_of_epoch: bool) -> tuple[bool, bool]:
        """Validate, step the epoch's lr and save when due; return whether to stop and whether a
        signal stopped the run.

        A signal adds ``checkpoint_last.pt`` to what this update writes anyway, so that an
        interrupted run leaves the same checkpoints and lr schedule as one that was not.
        """
        a, updates, epoch = self.args, self.trainer.num_updates, self.epoch_itr.epoch
        stop_reason = None
        if a.max_update and updates >= a.max_update:
            stop_reason = f"reached --max-update {a.max_update}"
        elif a.stop_time_hours and time.time() - self.started > a.stop_time_hours * 3600:
            stop_reason = f"reached --stop-time-hours {a.stop_time_hours}"
        at_interval = (
            a.validate_interval_updates > 0 and updates > 0 and updates % a.validate_interval_updates == 0
        )
        do_validate = (
            bool(self.valid_subsets)
            and updates >= a.validate_after_updates
            and (
                (end_of_epoch and epoch % a.validate_interval == 0) or at_interval or stop_reason is not None
            )
        )
        save_interval = a.save_interval_updates > 0 and updates > 0 and updates % a.save_interval_updates == 0
        do_save = (end_of_epoch and epoch % a.save_interval == 0) or save_interval or stop_reason is not None
        valid_losses = self.validate() if do_validate else [None]
        if self.checkpoints.record_validation(valid_losses[0]):
            stop_reason = stop_reason or f"no improvement for --patience {a.patience} validations"
        if end_of_epoch:
            # before the save, so that a run resumed from this checkpoint has taken the epoch's lr step
            self.trainer.lr_step(epoch, valid_losses[0])
        interrupted = self._stop_requested() and stop_reason is None
        if do_save or interrupted:
            self.checkpoints.save(
                self.trainer,
                self.epoch_itr,
                valid_losses[0],
                end_of_epoch,
                train_wall=time.time() - self.started,
            )
        if stop_reason:
            logger.info("stopping: %s", stop_reason)
        return stop_reason is not None or interrupted, interrupted

    def validate(self) -> list[float | None]:
        """Evaluate every validation subset; return the best-checkpoint metric of each."""
        if self.args.fixed_validation_seed is None:
            return self._validate()
        # training's generators continue afterwards as if validation had drawn nothing
        saved = rng_state()
        set_seed(self.args.fixed_validation_seed)
        try:
            return self._validate()
        finally:
            set_rng_state(saved)

    def _validate(self) -> list[float | None]:
        a, results = self.args, []
        self.task.begin_valid_epoch(self.epoch_itr.epoch, self.trainer.model)
        for subset in self.valid_subsets:
            itr = self._iterator(
                subset, a.max_tokens_valid or a.max_tokens, a.batch_size_valid or a.batch_size, epoch=1
            ).next_epoch_itr(shuffle=False)
            progress = Progress(
                itr, self.fmt, epoch=self.epoch_itr.epoch, prefix=f"valid on '{subset}' ", enabled=self.master
            )
            with metrics.aggregate(new_root=True) as agg:
                for i, sample in enumerate(progress):
                    if a.max_valid_steps is not None and i >= a.max_valid_steps:
                        break
                    self.task.reduce_metrics(self.trainer.valid_step(sample), self.trainer.criterion)
                stats = self._stats_of(agg)
            metric = stats.get(a.best_checkpoint_metric)
            if metric is not None:
                best = metric if self.checkpoints.is_better(float(metric)) else self.checkpoints.best
                stats[f"best_{a.best_checkpoint_metric}"] = best
            progress.print(stats, tag=subset, step=self.trainer.num_updates)
            results.append(None if metric is None else float(metric))
        return results

    # -- helpers -------------------------------------------------------------------------------------
    def _stop_requested(self) -> bool:
        # Every rank must stop after the same update: one that went on alone would wait for the
        # others in its next collective, and only rank 0 writes the checkpoint.
        ctx = self.trainer.dist
        if not ctx.is_distributed:
            return bool(self.stop)
        flag = torch.tensor([1.0 if self.stop else 0.0], device=self.trainer.device)
        if ctx.all_reduce_sum(flag).item() > 0:
            self.stop.signal_name = self.stop.signal_name or "a stop signal on another rank"
            return True
        return False

    def _train_iterator(self, epoch: int) -> Any:
        a = self.args
        self.task.load_dataset(a.train_subset, epoch=epoch)
        return self._iterator(a.train_subset, a.max_tokens, a.batch_size, epoch)

    def _iterator(self, subset: str, max_tokens: int | None, batch_size: int | None, epoch: int) -> Any:
        a, ctx = self.args, self.trainer.dist
        return self.task.get_batch_iterator(
            dataset=self.task.dataset(subset),
            max_tokens=max_tokens,
            max_sentences=batch_size,
            max_positions=resolve_max_positions(
                self.task.max_positions(), self.trainer.model.max_positions()
            ),
            ignore_invalid_inputs=a.skip_invalid_size_inputs_valid_test,
            required_batch_size_multiple=a.required_batch_size_multiple,
            seed=a.seed,
            num_shards=ctx.world_size,
            shard_id=ctx.rank,
            num_workers=a.num_workers,
            epoch=epoch,
        )

    def _stats(self, name: str) -> dict[str, Any]:
        stats = metrics.get_smoothed_values(name)
        stats["num_updates"] = self.trainer.num_updates
        return stats

    def _stats_of(self, meters: metrics.MetersDict) -> dict[str, Any]:
        stats = dict(meters.get_smoothed_values())
        stats["num_updates"] = self.trainer.num_updates
        return stats
