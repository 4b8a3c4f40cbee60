"""Model FLOPs of encoder-decoder transformer training, counted from the architecture.

Matmuls only: attention projections, attention scores (Q·K and weights·V), feed-forward
layers and the output projection onto the vocabulary; x3 for forward plus backward.
Lengths are the real (unpadded) average source and target lengths of each batch.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .config import Arch


@dataclass(frozen=True)
class BatchShape:
    """A batch as counted: sentences and their average real source and target lengths."""

    sentences: int
    src_len: float
    tgt_len: float


def forward_flops(arch: Arch, vocab: int, b: BatchShape) -> float:
    """FLOPs of one forward pass over the batch (a multiply-add counts 2)."""
    d, f = arch.dim, arch.ffn
    src_tokens, tgt_tokens = b.sentences * b.src_len, b.sentences * b.tgt_len
    enc_layer = src_tokens * (8 * d * d + 4 * d * f) + b.sentences * 4 * b.src_len**2 * d
    dec_layer = (
        tgt_tokens * (8 * d * d + 4 * d * d + 4 * d * f)  # self-attn QKVO, cross-attn QO, FFN
        + src_tokens * 4 * d * d  # cross-attention keys and values of the encoder output
        + b.sentences * 4 * (b.tgt_len**2 + b.tgt_len * b.src_len) * d  # self and cross scores
    )
    return arch.layers_enc * enc_layer + arch.layers_dec * dec_layer + tgt_tokens * 2 * d * vocab


def training_flops_per_target_token(arch: Arch, vocab: int, batches: Iterable[BatchShape]) -> float:
    """Training FLOPs (forward + backward = 3x forward) per target token, averaged over the batches."""
    flops = tokens = 0.0
    for b in batches:
        flops += 3 * forward_flops(arch, vocab, b)
        tokens += b.sentences * b.tgt_len
    return flops / tokens


def seqlab_batch_shapes(data_dir: str, max_tokens: int, seed: int = 1) -> tuple[int, list[BatchShape]]:
    """The target vocabulary size and every batch of one training epoch, batched by seqlab's task."""
    from seqlab.core import setup_task
    from seqlab.core.options import TASK, ToolSpec, parse

    argv = [data_dir, "--task", "translation", "--source-lang", "en", "--target-lang", "de"]
    task = setup_task(parse(ToolSpec("bench", "", choices=(TASK,)), argv).args)
    task.load_dataset("train")
    itr = task.get_batch_iterator(
        task.dataset("train"), max_tokens=max_tokens, max_positions=task.max_positions(), seed=seed
    )
    shapes = []
    for batch in itr.next_epoch_itr(shuffle=False):
        n = int(batch["nsentences"])
        src = float(batch["net_input"]["src_lengths"].sum())
        shapes.append(BatchShape(n, src / n, float(batch["ntokens"]) / n))
    return len(task.target_dictionary), shapes
