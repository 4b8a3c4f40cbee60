"""--print-alignment's extraction: hard pairs and soft weights from a hypothesis' attention."""

from __future__ import annotations

import torch

from seqlab.tasks.generation.alignment import alignment_text, hard_alignment, soft_alignment

PAD, EOS = 1, 2


def _attention() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A left-padded source of 3 tokens and </s>, a hypothesis of 3 tokens and </s>, made-up weights."""
    src = torch.tensor([PAD, PAD, 10, 11, 12, EOS])
    hyp = torch.tensor([20, 21, 22, EOS])
    attn = torch.tensor(
        [
            # pad   pad   s0    s1    s2    </s>
            [0.00, 0.00, 0.10, 0.70, 0.10, 0.10],  # t0 -> s1
            [0.00, 0.00, 0.50, 0.10, 0.05, 0.35],  # t1 -> s0
            [0.90, 0.00, 0.02, 0.03, 0.04, 0.01],  # t2 -> s2: padding never wins, however large
            [0.00, 0.00, 0.10, 0.10, 0.10, 0.70],  # </s>: not aligned
        ]
    )
    return attn, src, hyp


def test_hard_alignment_counts_positions_without_padding_and_skips_eos():
    attn, src, hyp = _attention()
    assert hard_alignment(attn, src, hyp, PAD, EOS) == [(1, 0), (0, 1), (2, 2)]
    # </s> is never the aligned source token, even where it has the most weight
    attn[1] = torch.tensor([0.0, 0.0, 0.2, 0.1, 0.05, 0.65])
    assert hard_alignment(attn, src, hyp, PAD, EOS)[1] == (0, 1)


def test_soft_alignment_keeps_eos_on_both_sides_and_drops_padding():
    attn, src, hyp = _attention()
    soft = soft_alignment(attn, src, hyp, PAD, EOS)
    assert len(soft) == 4 and all(len(row) == 4 for row in soft)
    assert soft[0] == ["0.100000", "0.700000", "0.100000", "0.100000"]
    assert soft[3][-1] == "0.700000"


def test_alignment_text_is_fairseqs_a_line():
    attn, src, hyp = _attention()
    assert alignment_text(hard_alignment(attn, src, hyp, PAD, EOS), "hard") == "1-0 0-1 2-2"
    soft = alignment_text(soft_alignment(attn[:1], src, hyp[:1], PAD, EOS), "soft")
    assert soft == "0.100000,0.700000,0.100000,0.100000"


def test_nothing_to_align_gives_an_empty_alignment():
    attn, src, _ = _attention()
    assert hard_alignment(attn[:1], src, torch.tensor([EOS]), PAD, EOS) == []
    assert (
        hard_alignment(
            attn, torch.tensor([PAD, PAD, PAD, PAD, PAD, EOS]), torch.tensor([20, 21, 22, EOS]), PAD, EOS
        )
        == []
    )
