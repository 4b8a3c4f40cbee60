"""The inference tools freeze what loading made while they work, and unfreeze it after."""

from __future__ import annotations

import gc
import weakref

import seqlab.cli.generate as generate_tool
from seqlab.cli.gc_freeze import loaded_objects_frozen

from .test_cli_generate import GEN, TOYS, checkpoint, data, run  # noqa: F401  (fixtures)


class _Node:
    """A reference cycle's member: only the collector frees it."""

    def __init__(self) -> None:
        self.me = self


def test_garbage_made_before_the_block_waits_for_its_end():
    node = _Node()
    alive = weakref.ref(node)
    with loaded_objects_frozen() as frozen:
        assert frozen > 0
        del node
        gc.collect()
        assert alive() is not None, "a frozen object was collected"
        later = _Node()
        later_alive = weakref.ref(later)
        del later
        gc.collect()
        assert later_alive() is None, "an object made inside the block must still be collected"
    assert gc.get_freeze_count() == 0
    gc.collect()
    assert alive() is None, "leaving the block must let the collector free what it froze"


def test_seq_generate_generates_with_the_loaded_model_frozen(data, checkpoint, capsys, monkeypatch):  # noqa: F811
    seen = []
    real = generate_tool.generate

    def recording(inf, out):
        seen.append((gc.get_freeze_count(), gc.is_tracked(inf.models[0])))
        young = {id(o) for o in gc.get_objects()}  # the collected generations, not the permanent one
        seen.append(id(inf.models[0]) in young)
        return real(inf, out)

    monkeypatch.setattr(generate_tool, "generate", recording)
    rc, out, err = run([str(data), "--path", checkpoint, "--user-dir", TOYS, *GEN, "--cpu"], capsys)
    assert rc == 0, err
    (count, tracked), model_in_young_generations = seen
    assert tracked and count > 0
    assert not model_in_young_generations, "the loaded model should sit in the permanent generation"
    assert gc.get_freeze_count() == 0
