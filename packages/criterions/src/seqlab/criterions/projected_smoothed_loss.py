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
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """Return ``(loss, nll, grad_features, grad_weight)``, the gradients (for upstream ``grads =
    (g_loss, g_nll)``) only where ``want`` asks for them."""
    n, v = features.size(0), weight.size(0)
    grad_features = features.new_empty(features.shape) if grads is not None and want[0] else None
    grad_weight = torch.zeros_like(weight) if grads is not None and want[1] else None
    eps_i = epsilon / (v - 1)
    keep_all = target.ne(ignore_index).to(features.dtype)
    buffer = features.new_empty(min(rows, n), v)
    nll = features.new_zeros(())
    smooth = features.new_zeros(())
    for start in range(0, n, rows):
        stop = min(start + rows, n)
        x, t, keep = features[start:stop], target[start:stop], keep_all[start:stop]
        lprobs = torch.mm(x, weight.t(), out=buffer[: stop - start])
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
        if grad_features is not None:
            torch.mm(grad, weight, out=grad_features[start:stop])
        if grad_weight is not None:
            grad_weight.addmm_(grad.t(), x)
    loss = (1.0 - epsilon - eps_i) * nll + eps_i * smooth
    return loss, nll, grad_features, grad_weight


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
    ) -> tuple[torch.Tensor, torch.Tensor]:
        ctx.set_materialize_grads(False)
        want = (ctx.needs_input_grad[0], ctx.needs_input_grad[1])
        # the gradients for an upstream gradient of 1 on the loss; backward scales them
        grads = (1.0, 0.0) if any(want) else None
        loss, nll, grad_features, grad_weight = _blocks(
            features, weight, target, epsilon, ignore_index, rows, grads, want
        )
        ctx.save_for_backward(features, weight, target, grad_features, grad_weight)
        ctx.epsilon, ctx.ignore_index, ctx.rows, ctx.want = epsilon, ignore_index, rows, want
        return loss, nll

    @staticmethod
    def backward(ctx: Any, grad_loss: torch.Tensor | None, grad_nll: torch.Tensor | None) -> tuple:
        features, weight, target, grad_features, grad_weight = ctx.saved_tensors
        if grad_nll is not None:  # a caller differentiates the nll too: work the blocks again
            g_loss = grad_loss if grad_loss is not None else features.new_zeros(())
            grads = (g_loss, grad_nll)
            _, _, grad_features, grad_weight = _blocks(
                features, weight, target, ctx.epsilon, ctx.ignore_index, ctx.rows, grads, ctx.want
            )
            return grad_features, grad_weight, None, None, None, None
        if grad_loss is None:
            return None, None, None, None, None, None
        return (
            None if grad_features is None else grad_features * grad_loss,
            None if grad_weight is None else grad_weight * grad_loss,
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
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(smoothed loss, nll loss)`` of ``log_softmax(features @ weight.T)`` against ``target``, summed.

    ``features`` is ``N x C``, ``weight`` ``V x C``, ``target`` ``N``; targets equal to
    ``ignore_index`` count nothing. Equal to ``smoothed_cross_entropy(features @ weight.T, ...)``
    without ever holding the ``N x V`` logits.
    """
    if rows is None:
        rows = block_rows(weight.size(0))
    return _ProjectedSmoothedCrossEntropy.apply(features, weight, target, epsilon, ignore_index, rows)


def blockwise_projection_weight(model: torch.nn.Module) -> torch.Tensor | None:
    """The output projection to apply in the loss, or None where the loss must start from the model's logits.

    That is the model's :meth:`~seqlab.core.model.BaseModel.output_projection_weight` when its
    log-probabilities are a plain log-softmax of ``features @ weight.T``, the weight is an
    ordinary fp32 tensor (not an FSDP shard), and no autocast is active (under autocast the
    projection runs in the autocast dtype instead).
    """
    if not normalizes_with_plain_log_softmax(model):
        return None
    # a BaseModel (checked above), perhaps from a seqlab-core without the method
    weight_of = getattr(getattr(model, "module", model), "output_projection_weight", None)
    weight = None if weight_of is None else weight_of()
    if weight is None or weight.dtype != torch.float32 or type(weight.data) is not torch.Tensor:
        return None
    if torch.is_autocast_enabled(weight.device.type):
        return None
    return weight
