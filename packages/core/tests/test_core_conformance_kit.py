"""The conformance kit: plugins that keep the contract pass it, and each broken toy fails the check
that covers what it breaks, with a message saying what broke."""

from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path

import pytest

from seqlab.core import discovery, import_user_dir
from seqlab.core.testing import (
    check_criterion,
    check_incremental_decoder,
    check_lr_scheduler,
    check_model,
    check_optimizer,
    check_registration,
    check_task,
)

TOYS = Path(__file__).parent / "conformance_toys"


@pytest.fixture(autouse=True)
def toys():
    """Import the toy plugins as a user dir (undone after each test by the conftest fixture)."""
    return import_user_dir(str(TOYS))


def test_importing_the_kit_does_not_import_torch_until_a_check_is_used():
    code = (
        "import sys, seqlab.core, seqlab.core.testing\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
        "from seqlab.core.testing import check_model\n"
        "assert 'torch' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --- plugins that keep the contract -------------------------------------------------------------


@pytest.mark.parametrize(
    "kind, name",
    [
        ("model", "toy_seq2seq"),
        ("architecture", "toy_seq2seq_wide"),
        ("criterion", "toy_nll"),
        ("optimizer", "toy_momentum"),
        ("lr_scheduler", "toy_warmup"),
        ("task", "toy_copy"),
    ],
)
def test_registration_of_a_user_dir_plugin_passes(kind, name):
    plugin = check_registration(kind, name)
    assert plugin.name == name and plugin.kind == kind


def test_a_model_that_keeps_the_contract_passes_and_comes_back_built():
    model = check_model("toy_seq2seq")
    assert not model.training
    check_incremental_decoder(model)


def test_check_model_applies_the_arch_preset_under_typed_flags():
    assert check_model("toy_seq2seq_wide", spawn=False).encoder.embed.embedding_dim == 16
    narrow = check_model("toy_seq2seq_wide", argv=["--embed-dim", "4"], spawn=False)
    assert narrow.encoder.embed.embedding_dim == 4


def test_criterion_optimizer_schedule_and_task_that_keep_the_contract_pass():
    check_criterion("toy_nll")
    check_optimizer("toy_momentum")
    check_optimizer("toy_momentum", ["--momentum", "0.5", "--lr", "0.05"])
    check_lr_scheduler("toy_warmup", ["--warmup-updates", "3000"])
    task = check_task("toy_copy", ["--examples", "30"], max_tokens=40)
    assert len(task.dataset("train")) == 30


# --- each broken toy fails the check that covers what it breaks -------------------------------------


def _model_then_incremental(name):
    check_incremental_decoder(check_model(name, spawn=False))


BROKEN = {
    "model output sized by the source dictionary": (
        check_model,
        "toy_wrong_vocabulary",
        r"check_model\('toy_wrong_vocabulary'\): get_normalized_probs gives shape \(6, 7, 30\); "
        r"expected \(6, 7, 22\)",
    ),
    "unused parameter": (
        check_model,
        "toy_unused_parameter",
        r"parameters that get no gradient: spare\.weight",
    ),
    "dropout in eval mode": (check_model, "toy_always_dropout", "two forward passes in eval mode differ"),
    "state outside the state dict": (
        check_model,
        "toy_unsaved_state",
        "a model loaded from the state dict gives other outputs",
    ),
    "class that cannot be pickled": (
        check_model,
        "toy_local_class",
        r"pickling the model .* raised .*Can't (pickle|get) local object",
    ),
    "decoder cache kept on the decoder": (
        _model_then_incremental,
        "toy_cache_on_self",
        "differs from the full forward pass at step 1 with a second cache decoding other rows at the same time",
    ),
    "decoder cache never reordered": (
        _model_then_incremental,
        "toy_no_reorder",
        r"at step 2 after reorder_incremental_state with a random permutation at step 2",
    ),
    "mean instead of summed loss": (
        check_criterion,
        "toy_mean_nll",
        "the losses of two parts of a batch add up to .*, not the whole batch's",
    ),
    "padding counted in the loss": (
        check_criterion,
        "toy_nll_with_padding",
        "the outputs at padded target positions get a gradient",
    ),
    "metrics averaged per call": (
        check_criterion,
        "toy_unweighted_metrics",
        "reduce_metrics gives other values one call per output than in one call: loss",
    ),
    "option without help": (
        lambda name: check_registration("criterion", name),
        "toy_undocumented",
        "options without help text: --sharpness",
    ),
    "optimizer state left out of its state dict": (
        check_optimizer,
        "toy_forgetful",
        "makes other updates than the original: state_dict\\(\\) misses some of its state",
    ),
    "lr returned but not set": (
        check_lr_scheduler,
        "toy_unset_lr",
        r"step_update\(1\) returned the lr 0.01 but left 0.5 on the optimizer",
    ),
    "schedule state left out of its state dict": (
        check_lr_scheduler,
        "toy_decay_per_call",
        r"resumed at update 5250, the lr is .*, not .*: state_dict\(\) misses some of the schedule's state",
    ),
    "task that cannot be rebuilt from its state": (
        check_task,
        "toy_copy_without_state",
        r"setup_task_from_state\(args, state\) without the data directory raised TypeError",
    ),
    "batch miscounting its tokens": (
        check_task,
        "toy_copy_miscounted",
        "ntokens of batch 0 is .*, but its target holds .* non-padding tokens",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_broken_plugin_fails_with_a_message_saying_what_broke(case):
    check, name, message = BROKEN[case]
    with pytest.raises(AssertionError, match=message):
        check(name)


def test_a_model_that_only_the_parent_process_can_import_fails_the_spawn_check(toys):
    # under fork the child would inherit this module; a spawned child must import it by name
    module = types.ModuleType("fakeplug_dynamic_model")
    sys.modules[module.__name__] = module
    source = f"""
from seqlab.core import register_model
from {toys.__name__}.models import ToySeq2Seq, ToySeq2SeqConfig

@register_model("toy_parent_only", dataclass=ToySeq2SeqConfig)
class ToyParentOnly(ToySeq2Seq):
    pass
"""
    exec(source, module.__dict__)
    with pytest.raises(AssertionError, match="in a process started with the spawn method raised"):
        check_model("toy_parent_only")


def test_options_that_do_not_parse_are_reported():
    with pytest.raises(AssertionError, match=r"unknown option --embed-dims \(did you mean --embed-dim\?\)"):
        check_model("toy_seq2seq", argv=["--embed-dims", "3"])


# --- entry points --------------------------------------------------------------------------------

FAKE_PLUGIN = """
from seqlab.core import Criterion, register_criterion

@register_criterion("fake_nll")
class FakeNLL(Criterion):
    pass

@register_criterion("fake_other")
class FakeOther(Criterion):
    pass
"""


@pytest.fixture
def fake_distribution(tmp_path, monkeypatch):
    """An installed distribution whose entry points name the right module for one plugin, not the other."""
    (tmp_path / "fakeplug_conformance.py").write_text(FAKE_PLUGIN)
    (tmp_path / "fakeplug_helpers.py").write_text('"""Registers nothing."""\n')
    info = tmp_path / "seqlab_fake_conformance-0.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: seqlab-fake-conformance\nVersion: 0.3\n")
    (info / "entry_points.txt").write_text(
        "[seqlab.criterions]\nfake_nll = fakeplug_conformance\nfake_other = fakeplug_helpers\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    discovery.refresh()
    yield
    monkeypatch.undo()
    discovery.refresh()


def test_entry_point_naming_the_registering_module_passes(fake_distribution):
    check_registration("criterion", "fake_nll", installed=True)


def test_entry_point_naming_another_module_fails(fake_distribution):
    import fakeplug_conformance  # noqa: F401  (registers fake_other, which its entry point misplaces)

    with pytest.raises(
        AssertionError,
        match="importing fakeplug_helpers .* of seqlab-fake-conformance 0.3.* does not register criterion "
        "'fake_other'; point the entry point at the module that registers it \\(fakeplug_conformance\\)",
    ):
        check_registration("criterion", "fake_other")


def test_a_plugin_no_distribution_declares_fails_when_it_must_be_installed():
    with pytest.raises(AssertionError, match="no installed distribution declares it"):
        check_registration("criterion", "toy_nll", installed=True)
