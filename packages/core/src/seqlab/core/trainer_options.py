"""The Trainer's own options (fairseq's names), grouped as ``seq-train --help`` shows them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass
class CommonOptions:
    """Seeds, devices, precision and logging."""

    seed: int = field(default=1, metadata={"help": "random seed (data order, dropout, initialisation)"})
    cpu: bool = field(default=False, metadata={"help": "train on the CPU even when a GPU is present"})
    fp16: bool = field(
        default=False,
        metadata={
            "help": "float16 autocast with dynamic loss scaling (fp32 weights; fairseq's --amp and "
            "--memory-efficient-fp16 mean the same here)",
            "aliases": ("--amp", "--memory-efficient-fp16"),
        },
    )
    bf16: bool = field(
        default=False, metadata={"help": "bfloat16 autocast", "aliases": ("--memory-efficient-bf16",)}
    )
    compile: bool = field(
        default=False,
        metadata={
            "help": "run the model's forward and backward through torch.compile (the first batches of "
            "new shapes compile; on CPUs measured slower than eager, see docs/training.md)"
        },
    )
    fp16_init_scale: float = field(
        default=128.0, metadata={"help": "initial loss scale with --fp16", "aliases": ("--amp-init-scale",)}
    )
    fp16_scale_window: int = field(
        default=2000,
        metadata={
            "help": "updates without overflow before the loss scale grows",
            "aliases": ("--amp-scale-window",),
        },
    )
    min_loss_scale: float = field(
        default=1e-4, metadata={"help": "stop when the loss scale falls below this (diverged)"}
    )
    skip_oom: bool = field(default=False, metadata={"help": "skip a batch that runs out of GPU memory"})
    log_format: Literal["simple", "json", "tqdm", "none"] | None = field(
        default=None, metadata={"help": "progress format (default: tqdm on a terminal, simple otherwise)"}
    )
    log_interval: int = field(default=100, metadata={"help": "log training statistics every N updates"})
    log_file: str | None = field(default=None, metadata={"help": "also write the log to this file"})
    tensorboard_logdir: str | None = field(
        default=None, metadata={"help": "write TensorBoard events under this folder"}
    )
    dry_run: bool = field(
        default=False, metadata={"help": "build everything, print the summary and exit without training"}
    )


@dataclass
class DatasetOptions:
    """Batching and validation."""

    max_tokens: int | None = field(default=None, metadata={"help": "padded tokens per batch"})
    batch_size: int | None = field(
        default=None, metadata={"help": "sentences per batch", "aliases": ("--max-sentences",)}
    )
    required_batch_size_multiple: int = field(
        default=8, metadata={"help": "batch sizes are a multiple of this when possible"}
    )
    num_workers: int = field(default=0, metadata={"help": "data-loading processes (0: in the main process)"})
    skip_invalid_size_inputs_valid_test: bool = field(
        default=False, metadata={"help": "skip examples longer than the model allows instead of failing"}
    )
    train_subset: str = field(default="train", metadata={"help": "the split to train on"})
    curriculum: int = field(
        default=0, metadata={"help": "take the first N epochs' batches in order (shortest first), unshuffled"}
    )
    valid_subset: str = field(default="valid", metadata={"help": "comma-separated splits to validate on"})
    disable_validation: bool = field(default=False, metadata={"help": "never validate"})
    validate_interval: int = field(default=1, metadata={"help": "validate every N epochs"})
    validate_interval_updates: int = field(default=0, metadata={"help": "also validate every N updates"})
    validate_after_updates: int = field(
        default=0, metadata={"help": "do not validate until N updates have been made"}
    )
    max_valid_steps: int | None = field(
        default=None,
        metadata={"help": "validate on at most N batches of each subset", "aliases": ("--nval",)},
    )
    fixed_validation_seed: int | None = field(
        default=None,
        metadata={"help": "seed the random numbers of every validation with N (training's are untouched)"},
    )
    max_tokens_valid: int | None = field(default=None, metadata={"help": "--max-tokens for validation"})
    batch_size_valid: int | None = field(
        default=None, metadata={"help": "--batch-size for validation", "aliases": ("--max-sentences-valid",)}
    )


@dataclass
class OptimizationOptions:
    """How long and how fast to train."""

    lr: list[float] = field(
        default_factory=lambda: [0.25], metadata={"help": "learning rate (a,b,...: one per epoch)"}
    )
    max_epoch: int = field(default=0, metadata={"help": "stop after this many epochs (0: no limit)"})
    max_update: int = field(default=0, metadata={"help": "stop after this many updates (0: no limit)"})
    stop_time_hours: float = field(default=0.0, metadata={"help": "stop after this many hours (0: no limit)"})
    update_freq: list[int] = field(
        default_factory=lambda: [1],
        metadata={"help": "accumulate gradients over N batches per update (a,b,...: per epoch)"},
    )
    clip_norm: float = field(
        default=0.0, metadata={"help": "clip the gradient norm to this (0: no clipping)"}
    )
    stop_min_lr: float = field(default=-1.0, metadata={"help": "stop when the lr falls to this"})


@dataclass
class CheckpointOptions:
    """Where and when checkpoints are written, and how a run resumes."""

    save_dir: str = field(default="checkpoints", metadata={"help": "folder for checkpoints"})
    restore_file: str = field(
        default="checkpoint_last.pt",
        metadata={"help": "checkpoint to resume from (in --save-dir if relative)"},
    )
    finetune_from_model: str | None = field(
        default=None, metadata={"help": "start from this checkpoint's weights, resetting everything else"}
    )
    reset_optimizer: bool = field(default=False, metadata={"help": "do not restore the optimizer state"})
    reset_lr_scheduler: bool = field(
        default=False, metadata={"help": "do not restore the lr scheduler state"}
    )
    reset_dataloader: bool = field(default=False, metadata={"help": "start a fresh epoch iterator"})
    reset_meters: bool = field(
        default=False,
        metadata={"help": "accepted for fairseq command lines: meters always restart on resume"},
    )
    save_interval: int = field(default=1, metadata={"help": "save an epoch checkpoint every N epochs"})
    save_interval_updates: int = field(default=0, metadata={"help": "also save every N updates"})
    keep_interval_updates: int = field(
        default=-1, metadata={"help": "keep only the last N update checkpoints (-1: all)"}
    )
    keep_last_epochs: int = field(
        default=-1, metadata={"help": "keep only the last N epoch checkpoints (-1: all)"}
    )
    keep_best_checkpoints: int = field(
        default=-1,
        metadata={
            "help": "also keep the N best checkpoints by --best-checkpoint-metric, as "
            "checkpoint.best_<metric>_<value>.pt (-1: none)"
        },
    )
    no_save: bool = field(default=False, metadata={"help": "write no checkpoint at all"})
    no_epoch_checkpoints: bool = field(default=False, metadata={"help": "only keep last and best"})
    no_last_checkpoints: bool = field(
        default=False,
        metadata={"help": "do not write checkpoint_last.pt (a stopped run then cannot resume from it)"},
    )
    no_save_optimizer_state: bool = field(
        default=False,
        metadata={
            "help": "leave the optimizer state out of checkpoints (a resumed run starts a fresh optimizer)"
        },
    )
    best_checkpoint_metric: str = field(default="loss", metadata={"help": "validation metric choosing best"})
    maximize_best_checkpoint_metric: bool = field(
        default=False, metadata={"help": "a higher metric is better"}
    )
    patience: int = field(
        default=-1, metadata={"help": "stop after N validations without improvement (-1: never)"}
    )


@dataclass
class DistributedOptions:
    """Data-parallel training on torchrun."""

    distributed_world_size: int = field(
        default=1, metadata={"help": "ranks to start on this machine through torch.distributed.run"}
    )
    ddp_backend: Literal["c10d", "pytorch_ddp", "legacy_ddp", "no_c10d", "fully_sharded"] = field(
        default="c10d",
        metadata={
            "help": "DistributedDataParallel (c10d) or FSDP2 fully_shard (fully_sharded); fairseq's "
            "pytorch_ddp, legacy_ddp and no_c10d run as c10d, whose summed gradients are the same"
        },
    )
    find_unused_parameters: bool = field(
        default=False,
        metadata={
            "help": "tell DistributedDataParallel that a step may leave parameters without a gradient "
            "(models that need it, such as LayerDrop's, set it themselves)"
        },
    )
    heartbeat_timeout: int = field(
        default=-1,
        metadata={
            "help": "fail every rank when one waits more than N seconds for the others in a collective "
            "(-1: torch's default, 30 minutes on gloo and 10 on NCCL)"
        },
    )


@dataclass
class EmaOptions:
    """An exponential moving average of the weights, saved in checkpoints (fairseq's EMA options)."""

    store_ema: bool = field(
        default=False,
        metadata={"help": "keep an exponential moving average of the weights; --ema-weights decodes with it"},
    )
    ema_decay: float = field(default=0.9999, metadata={"help": "how much of the average each update keeps"})
    ema_start_update: int = field(
        default=0, metadata={"help": "before this update the average is a plain copy of the weights"}
    )
    ema_update_freq: int = field(default=1, metadata={"help": "average in the weights every N updates"})
    ema_seed_model: str | None = field(
        default=None,
        metadata={
            "help": "start the average from the one this checkpoint saved (a run started with --store-ema); "
            "a resumed run continues its own"
        },
    )
    ema_fp32: bool = field(
        default=False,
        metadata={"help": "accepted for fairseq command lines: the average is kept in the weights' float32"},
    )


TRAINER_OPTION_GROUPS = (
    ("common", CommonOptions),
    ("dataset", DatasetOptions),
    ("optimization", OptimizationOptions),
    ("checkpoint", CheckpointOptions),
    ("distributed", DistributedOptions),
    ("ema", EmaOptions),
)
