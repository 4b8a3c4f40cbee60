"""Label-smoothed cross entropy straight from logits, with a one-pass backward.

Written as log-softmax, gather, sum and masks, autograd's backward of this loss walks the
``N x V`` logits several times (a scatter into zeros for the gather, an expand for the sum, the
log-softmax's own pass); on a CPU that is about a sixth of a small transformer's step. The
gradient has a closed form, ``softmax - smoothed_target``, which this computes in one pass.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from seqlab.core.decoder import Decoder
from seqlab.core.model import BaseModel

#: autograd nodes that only reshape: the tensor they make shares its producer's memory
_VIEWS = {"ViewBackward0", "UnsafeViewBackward0", "ReshapeAliasBackward0"}
#: matrix products, whose backward reads their inputs but never their output
_PRODUCTS = {"MmBackward0", "AddmmBackward0"}


def logits_may_be_overwritten(logits: torch.Tensor) -> bool:
    """Whether no backward reads ``logits``: fp32, contiguous, and a (reshaped) matrix product's output."""
    if logits.dtype != torch.float32 or not logits.is_contiguous():
        return False
    node = logits.grad_fn
    while node is not None and node.name() in _VIEWS:
        node = node.next_functions[0][0]
    return node is not None and node.name() in _PRODUCTS


class _SmoothedCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx: Any,
        logits: torch.Tensor,
        target: torch.Tensor,
        epsilon: float,
        ignore_index: int,
        overwrite: bool,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if overwrite:  # the log-probabilities take the logits' place: no second N x V buffer
            lprobs = torch._log_softmax(logits, -1, False, out=logits)
        else:
            lprobs = F.log_softmax(logits, dim=-1, dtype=torch.float32)
        keep = target.ne(ignore_index)
        nll = -(lprobs.gather(1, target.unsqueeze(1)).squeeze(1) * keep).sum()
        smooth = -(lprobs.sum(dim=1) * keep).sum()
        eps_i = epsilon / (logits.size(-1) - 1)
        loss = (1.0 - epsilon - eps_i) * nll + eps_i * smooth
        ctx.save_for_backward(lprobs, target, keep)
        ctx.epsilon, ctx.logits_dtype, ctx.used = epsilon, logits.dtype, False
        return loss, nll

    @staticmethod
    def backward(ctx: Any, grad_loss: torch.Tensor | None, grad_nll: torch.Tensor | None) -> tuple:
        if ctx.used:  # the saved log-probabilities became the gradient in place
            raise RuntimeError("smoothed_cross_entropy does not support a second backward (retain_graph)")
        ctx.used = True
        lprobs, target, keep = ctx.saved_tensors
        g_loss = grad_loss if grad_loss is not None else lprobs.new_zeros(())
        g_nll = grad_nll if grad_nll is not None else lprobs.new_zeros(())
        eps_i = ctx.epsilon / (lprobs.size(-1) - 1)
        # d loss / d logits = softmax - q, with q = eps_i everywhere and 1 - epsilon at the target
        # d nll / d logits = softmax - onehot(target)
        grad = lprobs.exp_()  # in place: a second N x V buffer costs more than the exp
        grad.mul_(g_loss + g_nll).sub_(g_loss * eps_i)
        rows = torch.arange(target.numel(), device=target.device)
        at_target = (g_loss * (1.0 - ctx.epsilon - eps_i) + g_nll).expand(target.numel())
        grad.index_put_((rows, target), -at_target, accumulate=True)
        grad.mul_(keep.unsqueeze(1))
        return grad.to(ctx.logits_dtype), None, None, None, None


def smoothed_cross_entropy(
    logits: torch.Tensor,
    target: torch.Tensor,
    epsilon: float,
    ignore_index: int,
    overwrite_logits: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(smoothed loss, nll loss)`` summed over targets, from logits ``N x V`` and targets ``N``.

    Equal to ``label_smoothed_nll_loss(log_softmax(logits), target, epsilon, ignore_index)``.
    With ``overwrite_logits`` (for a caller that reads the logits afterwards only through
    ``log_softmax``, which gives the same values again) the logits become their
    log-probabilities in place where :func:`logits_may_be_overwritten`: on a CPU, a fresh
    N x V buffer costs more in page faults than the log-softmax itself.
    """
    overwrite = overwrite_logits and logits_may_be_overwritten(logits)
    return _SmoothedCrossEntropy.apply(logits, target, epsilon, ignore_index, overwrite)


def normalizes_with_plain_log_softmax(model: torch.nn.Module) -> bool:
    """Whether the model's log-probabilities are ``log_softmax(logits)``, so the loss may start from logits."""
    model = getattr(model, "module", model)  # a data-parallel wrapper forwards to its module
    if not isinstance(model, BaseModel):
        return False
    if type(model).get_normalized_probs is not BaseModel.get_normalized_probs:
        return False
    decoder = getattr(model, "decoder", None)
    return decoder is None or (isinstance(decoder, Decoder) and decoder.normalizes_by_log_softmax())
