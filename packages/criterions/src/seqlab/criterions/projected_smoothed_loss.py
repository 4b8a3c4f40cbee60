"""Output projection and label-smoothed cross entropy in row blocks, gradients made in the forward pass.

The usual path writes the whole ``N x V`` logits (about 110 MB for a 4,096-token batch over an
8,000-piece vocabulary), reads them again for the loss, and once more in the backward pass. Here
each block of rows is projected, normalised, scored and turned into its gradient while it is
still in the cache, and the block's share of the feature and weight gradients is computed at
once; only an ``N x C`` and a ``V x C`` gradient outlive the forward pass. On a 2-core CPU at
CONFIG-A's shapes the output layer and loss took 153 ms forward and backward this way against
200 ms for the whole-matrix path, and the step's peak memory drops by the logits buffer.
"""

from __future__ import annotations

from typing import Any

import torch

from .fused_smoothed_loss import normalizes_with_plain_log_softmax

#: logits per block: 4 Mi floats (16 MB, 538 rows of 7,792). On a 2-core CPU with 2 MB of L2 per
#: core, blocks of 256 to 1,024 such rows measured alike and 2,048 rows 15 % slower; much smaller
#: blocks pay more for accumulating the weight gradient block by block than the cache saves
BLOCK_ELEMENTS = 4 * 1024 * 1024


def block_rows(vocab_size: int) -> int:
    """Rows per block for a vocabulary of ``vocab_size``."""
    return max(64, BLOCK_ELEMENTS // max(vocab_size, 1))


def _logit_grad_(
    lprobs: torch.Tensor,
    target: torch.Tensor,
    keep: torch.Tensor,
    g_probs: torch.Tensor | float,
    g_uniform: torch.Tensor | float,
    g_target: torch.Tensor | float,
) -> torch.Tensor:
    """Turn one block's log-probabilities, in place, into ``g_probs*softmax - g_uniform - g_target*onehot``, pad rows 0."""
    grad = lprobs.exp_()
    if not (isinstance(g_probs, float) and g_probs == 1.0):  # the forward pass's case: skip a pass
        grad.mul_(g_probs)
    grad.sub_(g_uniform)
    rows = torch.arange(target.numel(), device=target.device)
    at_target = torch.as_tensor(g_target, dtype=grad.dtype, device=grad.device).expand(target.numel())
    grad.index_put_((rows, target), -at_target, accumulate=True)
    return grad.mul_(keep.unsqueeze(1))


def _blocks(
    features: torch.Tensor,
    weight: torch.Tensor,
    target: torch.Tensor,
    epsilon: float,
    ignore_index: int,
    rows: int,
    grads: tuple[torch.Tensor | float, torch.Tensor | float] | None,
    want: tuple[bool, bool],
    compute_dtype: torch.dtype | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """Return ``(loss, nll, grad_features, grad_weight)``, the gradients (for upstream ``grads =
    (g_loss, g_nll)``) only where ``want`` asks for them.

    With ``compute_dtype`` (bf16) the three matrix products run in it, as under autocast; the
    log-softmax, the loss and the accumulated weight gradient stay in fp32.
    """
    n, v = features.size(0), weight.size(0)
    low = compute_dtype is not None and compute_dtype != torch.float32
    # the operands of the products: cast once per call, not per block
    x_all = _padded_rows(features, rows, compute_dtype) if low else features
    w = weight.to(compute_dtype) if low else weight
    grad_features = x_all.new_empty(x_all.shape) if grads is not None and want[0] else None
    grad_weight = torch.zeros_like(weight) if grads is not None and want[1] else None
    eps_i = epsilon / (v - 1)
    acc = torch.promote_types(weight.dtype, torch.float32)  # the log-softmax's and the loss's dtype
    if x_all.size(0) > n:
        target = torch.cat([target, target.new_full((x_all.size(0) - n,), ignore_index)])
    keep_all = target.ne(ignore_index).to(acc)
    buffer = features.new_empty(min(rows, x_all.size(0)), v, dtype=acc)
    # low precision: the block's logits, then its gradient, in compute_dtype; its weight gradient
    low_buffer = w.new_empty(buffer.shape) if low else None
    low_grad_weight = w.new_empty(w.shape) if low and grad_weight is not None else None
    nll = buffer.new_zeros(())
    smooth = buffer.new_zeros(())
    for start in range(0, x_all.size(0), rows):
        stop = min(start + rows, x_all.size(0))
        x, t, keep = x_all[start:stop], target[start:stop], keep_all[start:stop]
        if low_buffer is not None:
            lprobs = buffer[: stop - start].copy_(torch.mm(x, w.t(), out=low_buffer[: stop - start]))
        else:
            lprobs = torch.mm(x, w.t(), out=buffer[: stop - start])
        lprobs = torch._log_softmax(lprobs, 1, False, out=lprobs)
        nll -= lprobs.gather(1, t.unsqueeze(1)).view(-1).dot(keep)
        smooth -= lprobs.sum(1).dot(keep)
        if grads is None:
            continue
        g_loss, g_nll = grads
        # d loss / d logits = softmax - q, q = eps_i everywhere and 1 - epsilon at the target;
        # d nll / d logits = softmax - onehot(target)
        grad = _logit_grad_(
            lprobs, t, keep, g_loss + g_nll, g_loss * eps_i, g_loss * (1.0 - epsilon - eps_i) + g_nll
        )
        if low_buffer is not None:
            grad = low_buffer[: stop - start].copy_(grad)
        if grad_features is not None:
            torch.mm(grad, w, out=grad_features[start:stop])
        if grad_weight is not None:
            if low_grad_weight is not None:  # the block's product in low precision, summed in fp32
                grad_weight.add_(torch.mm(grad.t(), x, out=low_grad_weight))
            else:
                grad_weight.addmm_(grad.t(), x)
    loss = (1.0 - epsilon - eps_i) * nll + eps_i * smooth
    if grad_features is not None:
        grad_features = grad_features[:n].to(features.dtype)
    return loss, nll, grad_features, grad_weight


#: low-precision row blocks are padded to a multiple of this many rows (see :func:`_padded_rows`)
PAD_ROWS_TO = 64


def _padded_rows(features: torch.Tensor, rows: int, dtype: torch.dtype) -> torch.Tensor:
    """``features`` in ``dtype``, with zero rows appended so that the last block's rows are a multiple of 64.

    oneDNN compiles a bf16 product for each new shape (16 ms for a 200 x 7,792 by 7,792 x 256
    product on the CPU this was measured on, against 0.6 ms to run it), and a batch's last, partial
    block has a new shape nearly every step. Padded, the last blocks take a few shapes, compiled
    once each; padding to a whole block would waste up to a block's work on small batches.
    """
    n = features.size(0)
    tail = n % rows
    padding = (-tail) % min(PAD_ROWS_TO, rows) if tail else 0
    padded = features.new_empty(n + padding, features.size(1), dtype=dtype)
    padded[:n] = features
    padded[n:] = 0
    return padded


class _ProjectedSmoothedCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx: Any,
        features: torch.Tensor,
        weight: torch.Tensor,
        target: torch.Tensor,
        epsilon: float,
        ignore_index: int,
        rows: int,
        compute_dtype: torch.dtype | None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        ctx.set_materialize_grads(False)
        want = (ctx.needs_input_grad[0], ctx.needs_input_grad[1])
        # the gradients for an upstream gradient of 1 on the loss; backward scales them
        grads = (1.0, 0.0) if any(want) else None
        with torch.autocast(features.device.type, enabled=False):  # the dtypes are chosen here
            loss, nll, grad_features, grad_weight = _blocks(
                features, weight, target, epsilon, ignore_index, rows, grads, want, compute_dtype
            )
        ctx.save_for_backward(features, weight, target, grad_features, grad_weight)
        ctx.epsilon, ctx.ignore_index, ctx.rows, ctx.want = epsilon, ignore_index, rows, want
        ctx.compute_dtype = compute_dtype
        return loss, nll

    @staticmethod
    def backward(ctx: Any, grad_loss: torch.Tensor | None, grad_nll: torch.Tensor | None) -> tuple:
        features, weight, target, grad_features, grad_weight = ctx.saved_tensors
        if grad_nll is not None:  # a caller differentiates the nll too: work the blocks again
            g_loss = grad_loss if grad_loss is not None else features.new_zeros(())
            grads = (g_loss, grad_nll)
            _, _, grad_features, grad_weight = _blocks(
                features,
                weight,
                target,
                ctx.epsilon,
                ctx.ignore_index,
                ctx.rows,
                grads,
                ctx.want,
                ctx.compute_dtype,
            )
            return grad_features, grad_weight, None, None, None, None, None
        if grad_loss is None:
            return None, None, None, None, None, None, None
        return (
            None if grad_features is None else grad_features * grad_loss,
            None if grad_weight is None else grad_weight * grad_loss,
            None,
            None,
            None,
            None,
            None,
        )


def projected_smoothed_cross_entropy(
    features: torch.Tensor,
    weight: torch.Tensor,
    target: torch.Tensor,
    epsilon: float,
    ignore_index: int,
    rows: int | None = None,
    compute_dtype: torch.dtype | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(smoothed loss, nll loss)`` of ``log_softmax(features @ weight.T)`` against ``target``, summed.

    ``features`` is ``N x C``, ``weight`` ``V x C``, ``target`` ``N``; targets equal to
    ``ignore_index`` count nothing. Equal to ``smoothed_cross_entropy(features @ weight.T, ...)``
    without ever holding the ``N x V`` logits. ``compute_dtype`` (bf16) runs the products in that
    dtype, as autocast runs ``features @ weight.T``; the normalisation and the loss stay in fp32.
    """
    if rows is None:
        rows = block_rows(weight.size(0))
    if features.device.type == "cpu":  # on an accelerator, finding the rows would wait for it
        features, target = _counted_rows(features, target, ignore_index)
    return _ProjectedSmoothedCrossEntropy.apply(
        features, weight, target, epsilon, ignore_index, rows, compute_dtype
    )


def _counted_rows(
    features: torch.Tensor, target: torch.Tensor, ignore_index: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The feature rows and targets that count, without the padding's.

    A padding row adds nothing to the loss, yet costs its projection onto the vocabulary, its
    normalisation and its two gradient products like any other, and CONFIG-A's Multi30k batches
    pad about 12 % of their target positions. Gathering the rest copies ``N x C`` floats, a small
    fraction of one product's ``N x C x V`` work.
    """
    counted = target.ne(ignore_index)
    if bool(counted.all()):
        return features, target
    rows = counted.nonzero().squeeze(1)
    return features.index_select(0, rows), target.index_select(0, rows)


def autocast_compute_dtype(device: torch.device) -> torch.dtype | None:
    """The dtype autocast computes matrix products in on ``device``, or None where autocast is off."""
    if not torch.is_autocast_enabled(device.type):
        return None
    return torch.get_autocast_dtype(device.type)


def blockwise_projection_weight(model: torch.nn.Module) -> torch.Tensor | None:
    """The output projection to apply in the loss, or None where the loss must start from the model's logits.

    That is the model's :meth:`~seqlab.core.model.BaseModel.output_projection_weight` when its
    log-probabilities are a plain log-softmax of ``features @ weight.T``, the weight is an
    ordinary fp32 tensor (not an FSDP shard), and autocast is off or in bf16. Under fp16 autocast
    the loss keeps the logits: the gradients this loss makes in its forward pass would be cast to
    fp16 before the loss scale multiplies them, and the smallest would vanish.
    """
    if not normalizes_with_plain_log_softmax(model):
        return None
    # a BaseModel (checked above), perhaps from a seqlab-core without the method
    weight_of = getattr(getattr(model, "module", model), "output_projection_weight", None)
    weight = None if weight_of is None else weight_of()
    if weight is None or weight.dtype != torch.float32 or type(weight.data) is not torch.Tensor:
        return None
    if autocast_compute_dtype(weight.device) not in (None, torch.bfloat16):
        return None
    return weight
