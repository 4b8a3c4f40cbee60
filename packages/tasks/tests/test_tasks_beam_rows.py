"""Beam search moves rows as little as possible: a parent's best child takes the parent's slot, and
sentences from the end of the batch fill the places of those that left."""

from __future__ import annotations

import pytest
import torch

from seqlab.tasks.generation.beam_slots import parent_slot_order, sentences_kept_in_place


def test_a_worked_example():
    # parents 0, 1 and 3 keep their slots with their best children; 2 and 4 take the rest in rank order
    perm = parent_slot_order(torch.tensor([[0, 0, 1, 3, 0], [4, 3, 2, 1, 0], [2, 2, 2, 2, 2]]))
    assert perm.tolist() == [[0, 2, 1, 3, 4], [4, 3, 2, 1, 0], [1, 2, 0, 3, 4]]


@pytest.mark.parametrize("beam", [1, 2, 5, 8])
def test_random_parents(beam):
    gen = torch.Generator().manual_seed(beam)
    parents = torch.randint(0, beam, (200, beam), generator=gen)
    perm = parent_slot_order(parents)
    for row, order in zip(parents.tolist(), perm.tolist()):
        assert sorted(order) == list(range(beam))
        firsts = {p: row.index(p) for p in set(row)}
        assert all(order[p] == c for p, c in firsts.items())
        others = [c for c in range(beam) if c not in firsts.values()]
        free = [s for s in range(beam) if s not in firsts]
        assert [order[s] for s in free] == others
        # the rows a cache must copy: one per candidate that is not its parent's first
        assert sum(row[order[s]] != s for s in range(beam)) == beam - len(firsts)


@pytest.mark.parametrize(
    "done, keep",
    [
        ([0, 1, 0, 0, 1, 0, 0, 1], [0, 5, 2, 3, 6]),  # 1 and 4 left: 5 and 6 take their places
        ([0, 0, 0], [0, 1, 2]),
        ([1, 1], []),
        ([1, 0, 0], [2, 1]),
        ([0, 0, 1, 1], [0, 1]),  # the last ones left: nothing moves
    ],
)
def test_sentences_from_the_end_fill_the_places_of_those_that_left(done, keep):
    assert sentences_kept_in_place(torch.tensor(done, dtype=torch.bool)).tolist() == keep
