"""Which checkpoints to write and keep, and how a run resumes (fairseq's file names and flags)."""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .checkpoint_io import FORMAT_VERSION, atomic_copy, atomic_save, load_checkpoint_file
from .distributed import DistributedContext
from .errors import SeqlabError
from .rng import rng_state, set_rng_state
from .versions import installed_versions

logger = logging.getLogger(__name__)


@dataclass
class ResumeState:
    """Where a restored run continues: the epoch, the iterator position and the best metric so far."""

    epoch: int = 1
    iterator: dict[str, Any] | None = None
    best: float | None = None
    bad_validations: int = 0
    train_wall: float = 0.0
    path: str | None = None


class Checkpoints:
    """Writes ``checkpoint_last.pt``, ``checkpoint_best.pt``, ``checkpoint<epoch>.pt`` and
    ``checkpoint_<epoch>_<updates>.pt`` atomically, prunes old ones and restores runs."""

    def __init__(
        self, args: Any, config: dict[str, Any], plugins: dict[str, Any], ctx: DistributedContext
    ) -> None:
        self.args = args
        self.config = config
        self.plugins = plugins
        self.dist = ctx
        self.best: float | None = None
        self.bad_validations = 0
        if ctx.is_master and not args.no_save:
            _check_writable(args.save_dir)
            _remove_stale_temporaries(args.save_dir)

    # -- best metric and patience -----------------------------------------------------------------------
    def is_better(self, value: float) -> bool:
        """Whether a validation metric beats the best so far."""
        if self.best is None:
            return True
        return value > self.best if self.args.maximize_best_checkpoint_metric else value < self.best

    def record_validation(self, value: float | None) -> bool:
        """Track the best metric; return True when ``--patience`` validations passed without improvement."""
        if value is None:
            return False
        if self.is_better(value):
            self.bad_validations = 0
        else:
            self.bad_validations += 1
        patience = int(getattr(self.args, "patience", -1))
        if patience > 0 and self.bad_validations >= patience:
            logger.info(
                "no improvement in %d validations (--patience %d): stopping", self.bad_validations, patience
            )
            return True
        return False

    # -- saving ----------------------------------------------------------------------------------------
    def save(
        self,
        trainer: Any,
        epoch_itr: Any,
        val_metric: float | None,
        end_of_epoch: bool,
        train_wall: float = 0.0,
    ) -> list[str]:
        """Write this point's checkpoints (rank 0 only); return the paths written."""
        new_best = val_metric is not None and self.is_better(val_metric)
        if new_best:
            self.best = val_metric
        state = trainer.state_dict()  # every rank joins the gather when the model is sharded
        if self.args.no_save or not self.dist.is_master:
            return []
        epoch, updates = epoch_itr.epoch, trainer.num_updates
        names = self._names(epoch, updates, end_of_epoch, new_best) + self._best_n_names(val_metric)
        if not names:
            return []
        checkpoint = self._checkpoint(state, trainer, epoch_itr, train_wall)
        paths = [os.path.join(self.args.save_dir, n) for n in names]
        atomic_save(checkpoint, paths[0])
        for path in paths[1:]:
            atomic_copy(paths[0], path)
        logger.info("saved checkpoint %s (epoch %d @ %d updates)", ", ".join(paths), epoch, updates)
        self._prune()
        return paths

    def _names(self, epoch: int, updates: int, end_of_epoch: bool, new_best: bool) -> list[str]:
        a = self.args
        names = []
        if end_of_epoch and not a.no_epoch_checkpoints and epoch % a.save_interval == 0:
            names.append(f"checkpoint{epoch}.pt")
        if (
            not end_of_epoch
            and a.save_interval_updates > 0
            and updates % a.save_interval_updates == 0
            and not a.no_epoch_checkpoints
        ):
            names.append(f"checkpoint_{epoch}_{updates}.pt")
        if new_best:
            names.append("checkpoint_best.pt")
        if not a.no_last_checkpoints:
            names.append("checkpoint_last.pt")
        return names

    def _best_n_names(self, val_metric: float | None) -> list[str]:
        """``checkpoint.best_<metric>_<value>.pt`` when ``val_metric`` ranks among the ``--keep-best-checkpoints``."""
        a = self.args
        if val_metric is None or a.keep_best_checkpoints <= 0:
            return []
        name = f"checkpoint.best_{a.best_checkpoint_metric}_{val_metric:.3f}.pt"
        kept = self._best_n_kept()
        if name in dict(kept) or (
            len(kept) >= a.keep_best_checkpoints and not self._ranks_before(val_metric, kept[-1][1])
        ):
            return []  # an equal score is kept already (the earlier one stays), or it would not be kept
        return [name]

    def _best_n_kept(self) -> list[tuple[str, float]]:
        """The best-N checkpoints in ``--save-dir``, best first."""
        a = self.args
        pattern = re.compile(rf"checkpoint\.best_{re.escape(a.best_checkpoint_metric)}_(-?\d+\.\d+)\.pt")
        found = []
        for entry in os.listdir(a.save_dir):
            m = pattern.fullmatch(entry)
            if m:
                found.append((entry, float(m.group(1))))
        return sorted(found, key=lambda item: -item[1] if a.maximize_best_checkpoint_metric else item[1])

    def _ranks_before(self, value: float, other: float) -> bool:
        return value > other if self.args.maximize_best_checkpoint_metric else value < other

    def _checkpoint(
        self, state: dict[str, Any], trainer: Any, epoch_itr: Any, train_wall: float
    ) -> dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION,
            "model": state["model"],
            "optimizer": None if self.args.no_save_optimizer_state else state["optimizer"],
            "lr_scheduler": state["lr_scheduler"],
            "scaler": None if self.args.no_save_optimizer_state else state["scaler"],
            "ema": state.get("ema"),
            "trainer": {
                "num_updates": state["num_updates"],
                "epoch": epoch_itr.epoch,
                "iterator": epoch_itr.state_dict(),
                "rng": rng_state(),
                "best": self.best,
                "bad_validations": self.bad_validations,
                "train_wall": train_wall,
            },
            "config": self.config,
            "task_state": trainer.task.state_dict(),
            "plugins": self.plugins,
            "versions": installed_versions(),
        }

    def _prune(self) -> None:
        a = self.args
        if a.keep_interval_updates > 0:
            _remove_all_but(a.save_dir, r"checkpoint_\d+_(\d+)\.pt", a.keep_interval_updates)
        if a.keep_last_epochs > 0:
            _remove_all_but(a.save_dir, r"checkpoint(\d+)\.pt", a.keep_last_epochs)
        if a.keep_best_checkpoints > 0:
            for name, _ in self._best_n_kept()[a.keep_best_checkpoints :]:
                os.remove(os.path.join(a.save_dir, name))

    # -- restoring -------------------------------------------------------------------------------------
    def restore(self, trainer: Any) -> ResumeState:
        """Load ``--restore-file`` (default ``checkpoint_last.pt`` in ``--save-dir``) if it exists."""
        a = self.args
        path = a.restore_file if os.path.isabs(a.restore_file) else os.path.join(a.save_dir, a.restore_file)
        if not os.path.exists(path):
            if a.restore_file != "checkpoint_last.pt":
                raise SeqlabError(f"--restore-file {path} does not exist; check the path or drop the flag")
            if a.finetune_from_model:
                return self._finetune(trainer, a.finetune_from_model)
            return ResumeState()
        checkpoint = load_checkpoint_file(path)
        _check_same_model(checkpoint, self.config, path)
        _check_same_dictionaries(checkpoint, trainer.task, path)
        info = checkpoint.get("trainer", {})
        if checkpoint.get("optimizer") is None and not a.reset_optimizer:
            logger.warning(
                "%s holds no optimizer state (--no-save-optimizer-state): the optimizer starts afresh", path
            )
        with _model_mismatch_as_error(path):
            trainer.load_state_dict(
                {
                    **checkpoint,
                    "model": upgraded_state(trainer.model, checkpoint["model"]),
                    "num_updates": int(info.get("num_updates", 0)),
                },
                reset_optimizer=a.reset_optimizer,
                reset_lr_scheduler=a.reset_lr_scheduler,
            )
        resume = ResumeState(path=path)
        if not a.reset_dataloader:
            resume.epoch = int(info.get("epoch", 1))
            resume.iterator = info.get("iterator")
        resume.best = info.get("best")
        resume.bad_validations = int(info.get("bad_validations", 0))
        resume.train_wall = float(info.get("train_wall", 0.0))
        if info.get("rng") is not None:
            set_rng_state(info["rng"])
        self.best, self.bad_validations = resume.best, resume.bad_validations
        logger.info("resumed from %s (epoch %d @ %d updates)", path, resume.epoch, trainer.num_updates)
        return resume

    def _finetune(self, trainer: Any, path: str) -> ResumeState:
        checkpoint = load_checkpoint_file(path)
        _check_same_model(checkpoint, self.config, path)
        from .model_wrapping import load_full_model_state

        with _model_mismatch_as_error(path):
            load_full_model_state(trainer.model, upgraded_state(trainer.model, checkpoint["model"]))
        logger.info("fine-tuning from the weights of %s (optimizer, scheduler and data reset)", path)
        return ResumeState()


def upgraded_state(model: Any, state: dict[str, Any]) -> dict[str, Any]:
    """The model's own view of a checkpoint's weights (``upgrade_state_dict``: e.g. a full stack
    pruned to ``--decoder-layers-to-keep``), for training and the inference tools alike."""
    upgrade = getattr(model, "upgrade_state_dict", None)
    return upgrade(dict(state)) if upgrade is not None else state


def _check_same_model(checkpoint: dict[str, Any], config: dict[str, Any], path: str) -> None:
    saved = checkpoint.get("config", {})
    for key in ("arch", "task"):
        if key in saved and key in config and saved[key] != config[key]:
            raise SeqlabError(
                f"checkpoint {path} was trained with --{key} {saved[key]}, not {config[key]}; "
                "use another --save-dir or the same configuration"
            )


def _check_same_dictionaries(checkpoint: dict[str, Any], task: Any, path: str) -> None:
    # Dictionaries are padded to a multiple of 8, so another vocabulary often has the same size and
    # would load without a shape error: every embedding row would then mean another word.
    saved = checkpoint.get("task_state") or {}
    current = task.state_dict() if hasattr(task, "state_dict") else {}
    for key, value in saved.items():
        mine = current.get(key)
        if not (key.endswith("dictionary") and isinstance(value, dict) and isinstance(mine, dict)):
            continue
        if value.get("symbols") != mine.get("symbols"):
            raise SeqlabError(
                f"checkpoint {path} was trained with another {key.replace('_', ' ')} than the data's; "
                "use the data it was trained on, or another --save-dir"
            )


@contextlib.contextmanager
def _model_mismatch_as_error(path: str) -> Iterator[None]:
    # load_state_dict lists every mismatching tensor on its own line; the first names the problem.
    try:
        yield
    except RuntimeError as exc:
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        detail = next(
            (line for line in lines[1:] if "mismatch" in line or "key" in line), lines[0] if lines else ""
        )
        raise SeqlabError(
            f"checkpoint {path} does not fit this model ({detail}); it was trained with other model "
            "options: use the same options, or another --save-dir"
        ) from exc
    except ValueError as exc:
        if "parameter group" not in str(exc):  # torch's optimizer: other parameters than the model's
            raise
        raise SeqlabError(
            f"checkpoint {path} holds optimizer state for other parameters than this model's (a model "
            "with more layers, before --*-layers-to-keep?); add --reset-optimizer to start the optimizer afresh"
        ) from exc


def _check_writable(folder: str) -> None:
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        raise SeqlabError(
            f"--save-dir {folder} cannot be created ({exc.strerror}); choose a writable folder"
        ) from exc
    if not os.access(folder, os.W_OK | os.X_OK):
        raise SeqlabError(
            f"--save-dir {folder} is not writable; choose a writable folder or fix its permissions"
        )


def _remove_stale_temporaries(folder: str) -> None:
    # a save interrupted by a crash leaves its temporary file; the checkpoints themselves are whole
    for name in os.listdir(folder):
        if name.startswith(".tmp-") and name.endswith(".pt"):
            os.remove(os.path.join(folder, name))


def _remove_all_but(folder: str, pattern: str, keep: int) -> None:
    regex = re.compile(pattern)
    found = []
    for name in os.listdir(folder):
        match = regex.fullmatch(name)
        if match:
            found.append((int(match.group(1)), name))
    for _, name in sorted(found, reverse=True)[keep:]:
        os.remove(os.path.join(folder, name))
