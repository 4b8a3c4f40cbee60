"""Rebuild what a checkpoint was trained with, for seq-generate, seq-interactive and seq-eval-lm.

The task and the models come from the checkpoint alone: its ``config`` (the resolved
training options), its ``task_state`` (dictionaries, sentencepiece model) and its
weights. The command line adds the tool's own flags and may override the task's options
(``--tokens-per-sample``, the data directory). A plugin the checkpoint needs that is not
available is reported in one line with where it came from and what to pass.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from seqlab.core import ConfigError, PluginError, SeqlabError, get_plugin, import_user_dirs
from seqlab.core.checkpoint_io import load_checkpoint_file
from seqlab.core.checkpoints import upgraded_state
from seqlab.core.discovery import distribution_installed
from seqlab.core.onednn_cache import widen_primitive_cache
from seqlab.core.options import COMMAND_LINE, ResolvedConfig, ToolSpec, add_common_args, parse
from seqlab.core.registry import Plugin
from seqlab.core.suggest import did_you_mean

from .malloc_tuning import keep_freed_memory
from .model_overrides import apply_model_overrides, parse_model_overrides

logger = logging.getLogger("seqlab.inference")

#: the batch when neither --max-tokens nor --batch-size is given (fairseq's tools' default)
DEFAULT_MAX_TOKENS = 12000

#: model options that name files of initial weights (fairseq's pretrained embeddings)
INIT_ONLY_OPTIONS = frozenset({"encoder_embed_path", "decoder_embed_path"})

#: the plugins a checkpoint records that inference needs, by their key in ``checkpoint["plugins"]``
NEEDED_PLUGINS = ("task", "model", "arch", "criterion")
_KIND_OF = {"task": "task", "arch": "architecture", "model": "model", "criterion": "criterion"}


@dataclass
class Inference:
    """The rebuilt task, the models (on their device, in eval mode) and the merged options."""

    args: argparse.Namespace
    task: Any
    models: list[torch.nn.Module]
    device: torch.device
    paths: list[str]


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is when a record is logged (it may be replaced meanwhile)."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def setup_tool_logging() -> None:
    """Log lines go to stderr, so that stdout holds only the tool's results."""
    root = logging.getLogger("seqlab")
    root.handlers.clear()
    root.setLevel(logging.INFO)
    root.propagate = False
    handler = _StderrHandler()
    handler.setFormatter(
        logging.Formatter("%(asctime)s | %(levelname)s | %(name)s | %(message)s", "%Y-%m-%d %H:%M:%S")
    )
    root.addHandler(handler)


def checkpoint_paths(path: str) -> list[str]:
    """The checkpoints of ``--path`` (several joined by ':' make an ensemble)."""
    paths = [p for p in str(path).split(os.pathsep) if p]
    if not paths:
        raise ConfigError("--path names no checkpoint; pass --path checkpoints/checkpoint_best.pt")
    return paths


def missing_plugin_message(path: str, record: dict[str, Any], error: Exception) -> str:
    """One line: which plugin the checkpoint needs, where it came from, and what to pass."""
    kind, name = record.get("kind", "plugin"), record.get("name", "?")
    what = f"checkpoint {path} needs the {kind} '{name}'"
    if "user_dir" in record:
        where = record["user_dir"]
        return f"{what} from the user dir {where}, which is not loaded; pass --user-dir {where}"
    dist = record.get("distribution")
    if dist:
        version = record.get("version", "?")
        if not distribution_installed(dist):
            return f"{what} from {dist} {version}, which is not installed; pip install {dist}"
        return f"{what} from {dist} {version}, which the installed {dist} does not provide; pip install '{dist}=={version}'"
    module = record.get("module", "?")
    return f"{what} from the module {module}, which cannot be loaded ({error}); make it importable or pass --user-dir"


def check_plugins(checkpoint: dict[str, Any], path: str) -> None:
    """Fail in one line when a plugin the checkpoint was trained with is not available now."""
    recorded = checkpoint.get("plugins") or {}
    config = checkpoint.get("config") or {}
    for dest in NEEDED_PLUGINS:
        record = recorded.get(dest)
        if not isinstance(record, dict):
            if dest in ("task", "arch") and config.get(dest):
                get_plugin(_KIND_OF[dest], str(config[dest]))  # older checkpoints: the name alone
            continue
        try:
            get_plugin(record.get("kind", _KIND_OF[dest]), record["name"])
        except PluginError as exc:
            raise PluginError(missing_plugin_message(path, record, exc)) from exc


class _SharedGroup:
    """An argument group where a flag the tool already defines is shared, not redefined."""

    def __init__(self, parser: argparse.ArgumentParser, title: str) -> None:
        self._parser = parser
        self._group = parser.add_argument_group(title)

    def add_argument(self, *flags: str, **kwargs: Any) -> argparse.Action:
        """Add a flag unless the parser has it already."""
        for f in flags:
            if f in self._parser._option_string_actions:
                return self._parser._option_string_actions[f]
        return self._group.add_argument(*flags, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._group, name)


def _tool_dests(add_tool_args: Callable[[argparse.ArgumentParser], None]) -> set[str]:
    scratch = argparse.ArgumentParser(add_help=False)
    add_common_args(scratch)
    add_tool_args(scratch)
    return {a.dest for a in scratch._actions}


def _pre_parse(argv: Sequence[str]) -> argparse.Namespace:
    pre = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    pre.add_argument("--path", default=None)
    pre.add_argument("--user-dir", action="append", default=None)
    known, _ = pre.parse_known_args(list(argv))
    return known


def load_checkpoint(path: str) -> dict[str, Any]:
    """Load a checkpoint for inference: plain data only, its plugins available, no optimizer state."""
    checkpoint = load_checkpoint_file(path)
    check_plugins(checkpoint, path)
    for key in ("optimizer", "lr_scheduler", "scaler"):
        checkpoint.pop(key, None)  # only training needs them; they can be several times the model
    return checkpoint


def checkpoint_task_plugin(checkpoint: dict[str, Any], name: str) -> Plugin:
    """The task plugin a checkpoint was trained with (``name`` says which checkpoint in errors)."""
    config = checkpoint.get("config") or {}
    if not config.get("task") or not config.get("arch"):
        raise SeqlabError(f"{name} records no task or arch in its config; it was not written by seq-train")
    return get_plugin("task", str(config["task"]))


def parse_with_checkpoint(
    prog: str,
    description: str,
    add_tool_args: Callable[[argparse.ArgumentParser], None],
    argv: Sequence[str],
    with_task_options: bool,
) -> tuple[argparse.Namespace, dict[str, Any], Plugin]:
    """Parse the command line against the first checkpoint's task; return the merged options.

    The merged ``args`` are the first checkpoint's training options, overridden by the
    tool's flags and by the task options typed on the command line. Also returns the
    first checkpoint and the task plugin.
    """
    argv = list(argv)
    known = _pre_parse(argv)
    if known.path is None:
        if "-h" in argv or "--help" in argv:
            parse(ToolSpec(prog, description, add_args=add_tool_args), argv)  # prints help and exits
        raise ConfigError(
            "--path is required: the checkpoint to use (several joined by ':' make an ensemble)"
        )
    import_user_dirs(known.user_dir)
    first_path = checkpoint_paths(known.path)[0]
    first = load_checkpoint(first_path)
    config = dict(first.get("config") or {})
    task_plugin = checkpoint_task_plugin(first, f"checkpoint {first_path}")

    def add_args(parser: argparse.ArgumentParser) -> None:
        add_tool_args(parser)
        if with_task_options:
            task_plugin.obj.add_args(
                _SharedGroup(parser, f"task {task_plugin.name} options ({task_plugin.origin()})")
            )

    # --print-config shows the merged options, the checkpoint's included, so it is handled here
    print_config = "--print-config" in argv
    resolved = parse(
        ToolSpec(prog, description, add_args=add_args), [a for a in argv if a != "--print-config"]
    )
    tool_dests = _tool_dests(add_tool_args)
    args = argparse.Namespace(**config)
    sources = dict.fromkeys(config, f"checkpoint {first_path}")
    for key, value in vars(resolved.args).items():
        source = resolved.sources.get(key, "")
        typed = source == COMMAND_LINE or source.startswith("config ")
        if key in tool_dests or key not in config or typed:
            setattr(args, key, value)
            sources[key] = source
    if print_config:
        args.print_config = True
        print(ResolvedConfig(args, sources).format())
        raise SystemExit(0)
    return args, first, task_plugin


def check_same_task(first: dict[str, Any], first_path: str, checkpoint: dict[str, Any], path: str) -> None:
    """An ensemble's checkpoints share one task and its dictionaries."""
    task_a, task_b = first["config"].get("task"), checkpoint.get("config", {}).get("task")
    if task_a != task_b:
        raise SeqlabError(
            f"an ensemble needs one task: {first_path} is --task {task_a}, {path} is --task {task_b}"
        )
    if (first.get("task_state") or None) != (checkpoint.get("task_state") or None):
        raise SeqlabError(
            f"an ensemble needs the same dictionaries: {path} was trained with other dictionaries "
            f"(or another tokenizer) than {first_path}"
        )


def select_device(args: argparse.Namespace) -> torch.device:
    """CUDA when present and not ``--cpu``, else the CPU."""
    if torch.cuda.is_available() and not getattr(args, "cpu", False):
        return torch.device("cuda")
    return torch.device("cpu")


def build_task(
    task_plugin: Plugin, args: argparse.Namespace, checkpoint: dict[str, Any], path: str, with_data: bool
) -> Any:
    """The task from the checkpoint's ``task_state``; without one, from the data directory (``with_data``)."""
    state = checkpoint.get("task_state") or {}
    if not state and with_data:
        return task_plugin.obj.setup_task(args)
    task = task_plugin.obj.setup_task_from_state(args, state)
    if with_data:
        check_data_dictionaries(task_plugin, args, state, path)
    return task


def check_data_dictionaries(
    task_plugin: Plugin, args: argparse.Namespace, state: dict[str, Any], path: str
) -> None:
    """Fail when the data directory was binarized with other dictionaries than the checkpoint's."""
    # Dictionaries are padded to a multiple of 8, so another vocabulary often has the same size:
    # the data would load, and every id would mean another word.
    try:
        data_task = task_plugin.obj.setup_task(argparse.Namespace(**vars(args)))
    except SeqlabError:
        return  # no dictionaries beside the data: its splits are read with the checkpoint's
    found = data_task.state_dict() if hasattr(data_task, "state_dict") else {}
    for key, saved in state.items():
        mine = found.get(key)
        if key.endswith("dictionary") and isinstance(saved, dict) and isinstance(mine, dict):
            if saved.get("symbols") != mine.get("symbols"):
                raise SeqlabError(
                    f"{args.data} was binarized with another {key.replace('_', ' ')} than checkpoint {path} "
                    "was trained with; binarize it with the training data's dictionaries "
                    "(seq-preprocess --srcdict/--tgtdict)"
                )


def load_model(
    task: Any,
    path: str,
    checkpoint: dict[str, Any],
    args: argparse.Namespace,
    device: torch.device,
    strict_dropout_classes: bool = True,
    overrides: dict[str, Any] | None = None,
) -> torch.nn.Module:
    """Build the checkpoint's model with its own training options (and ``overrides``) and load its weights.

    With ``strict_dropout_classes`` false, ``--retain-dropout-modules`` may name classes the
    model does not have (a fused language model need not have the translation model's).
    """
    # the checkpoint's weights replace what files of initial weights would give, so they are not read
    config = {k: (None if k in INIT_ONLY_OPTIONS else v) for k, v in checkpoint["config"].items()}
    config = apply_model_overrides(config, overrides or {}, path)
    model_args = argparse.Namespace(**config)
    model = task.build_model(model_args)
    state = checkpoint["model"]
    if getattr(args, "ema_weights", False):
        if checkpoint.get("ema") is None:
            raise ConfigError(
                f"--ema-weights: checkpoint {path} holds no moving average; train with --store-ema, or drop the flag"
            )
        state = checkpoint["ema"]
    state = upgraded_state(model, state)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise SeqlabError(
            f"checkpoint {path}: its weights do not fit the model --arch {model_args.arch} builds now ({first}); "
            "use the plugin versions it was trained with (see its 'versions')"
        ) from exc
    prepare = getattr(model, "prepare_for_inference_", None)
    if prepare is not None:
        prepare(args)
    retain_dropout(
        model,
        bool(getattr(args, "retain_dropout", False)),
        getattr(args, "retain_dropout_modules", None),
        strict_dropout_classes,
    )
    dtype = torch.float16 if getattr(args, "fp16", False) else None
    if dtype is None and getattr(args, "bf16", False):
        dtype = torch.bfloat16
    if dtype is not None:
        if device.type == "cpu":
            widen_primitive_cache()  # every decoding step meets new shapes, each a compiled kernel
        model.to(dtype)
    return model.to(device)


def retain_dropout(
    model: torch.nn.Module, retain: bool, classes: Sequence[str] | None, strict: bool = True
) -> None:
    """Eval mode, or dropout kept on (``--retain-dropout``), in every module or those of ``classes`` only.

    ``strict``: a class the model does not have is an error.
    """
    # dropout is the only thing the models' training mode switches on
    model.train(retain)
    if classes is None:
        return
    if not retain:
        raise ConfigError("--retain-dropout-modules needs --retain-dropout")
    found = {type(m).__name__ for m in model.modules()}
    unknown = [name for name in classes if name not in found]
    if unknown and strict:
        raise ConfigError(
            f"--retain-dropout-modules: the model has no module of class {unknown[0]}"
            f"{did_you_mean(unknown[0], sorted(found))}"
        )
    for module in model.modules():  # each module's own flag, as fairseq's per-module dropout
        module.training = type(module).__name__ in classes


def load_inference(
    prog: str,
    description: str,
    add_tool_args: Callable[[argparse.ArgumentParser], None],
    argv: Sequence[str],
    with_task_options: bool,
    check: Callable[[argparse.Namespace], object] | None = None,
    validating: bool = False,
) -> Inference:
    """Parse, rebuild the task from the first checkpoint and load every checkpoint's model.

    ``check(args)`` runs on the merged options before anything is built, so that a bad
    option fails before the models load. Unless ``validating`` (seq-validate), the task is
    rebuilt without the training run's ``--eval-bleu``: translating needs none of it, and its
    detokenizer may need a package (sacremoses) that only the training machine has.
    """
    args, first, task_plugin = parse_with_checkpoint(
        prog, description, add_tool_args, argv, with_task_options
    )
    if not validating and getattr(args, "eval_bleu", False):
        args.eval_bleu = False
    if check is not None:
        check(args)
    overrides = parse_model_overrides(getattr(args, "model_overrides", None))
    apply_model_overrides(dict(first.get("config") or {}), overrides, checkpoint_paths(args.path)[0])
    keep_freed_memory()  # every decoding step's tensors then reuse warm pages (see malloc_tuning)
    torch.manual_seed(int(getattr(args, "seed", 1)))
    paths = checkpoint_paths(args.path)
    task = build_task(task_plugin, args, first, paths[0], with_data=with_task_options)
    device = select_device(args)
    models = []
    for i, path in enumerate(paths):
        # one checkpoint in memory at a time (besides the first's options and task state)
        checkpoint = first if i == 0 else load_checkpoint(path)
        if i > 0:
            check_same_task(first, paths[0], checkpoint, path)
        logger.info("loading model from %s", path)
        models.append(load_model(task, path, checkpoint, args, device, overrides=overrides))
        if i == 0:
            first = {key: first[key] for key in ("config", "task_state") if key in first}
    return Inference(args, task, models, device, paths)


def split_batches(
    task: Any, dataset: Any, args: argparse.Namespace, max_positions: Any, **sharding: int
) -> Any:
    """``dataset``'s batches in order, by the batching flags (``--max-tokens 12000`` when none is given).

    ``sharding`` (``num_shards``, ``shard_id``) selects every n-th batch.
    """
    max_tokens = args.max_tokens if args.max_tokens or args.batch_size else DEFAULT_MAX_TOKENS
    return task.get_batch_iterator(
        dataset=dataset,
        max_tokens=max_tokens,
        max_sentences=args.batch_size,
        max_positions=max_positions,
        ignore_invalid_inputs=args.skip_invalid_size_inputs_valid_test,
        required_batch_size_multiple=args.required_batch_size_multiple,
        seed=args.seed,
        num_workers=args.num_workers,
        **sharding,
    ).next_epoch_itr(shuffle=False)
