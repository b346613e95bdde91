"""Content, style and total-variation losses, as pure functions.

Each takes an explicit ``reduction``: the references differ and the caller chooses.

* ``"sum"``: plain sum of squares. Ulyanov & Lebedev's audio code
  (``2 * tf.nn.l2_loss``) uses this.
* ``"mean"``: mean squared error. jcjohnson/neural-style (``nn.MSECriterion``) uses this.
"""

from __future__ import annotations

from typing import Literal, Sequence

import torch
from torch import Tensor

from torch.autograd.function import once_differentiable

from .gram import GramNormalize, blend_grams, gram_matrix, gram_scale, symmetric_times

Reduction = Literal["sum", "mean"]
_REDUCTIONS = ("sum", "mean")


def _reduce(x: Tensor, reduction: Reduction) -> Tensor:
    if reduction == "sum":
        return x.sum()
    if reduction == "mean":
        return x.mean()
    raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def content_loss(features: Tensor, target: Tensor, reduction: Reduction = "sum") -> Tensor:
    """Squared distance between feature maps (Gatys et al. 2016, eq. 1; Ulyanov & Lebedev 2016).

    Args:
        features: Tensor of dimension ``(B, C, *spatial)``.
        target: Tensor broadcastable to ``features`` (typically ``(1, C, *spatial)``).
        reduction: ``"sum"`` or ``"mean"`` of the squared differences.

    Returns:
        Scalar tensor.
    """
    if features.shape[1:] != target.shape[1:]:
        raise ValueError(
            f"content target has shape {tuple(target.shape)} but features have "
            f"{tuple(features.shape)}; they must match past the batch dimension"
        )
    return _reduce((features - target) ** 2, reduction)


def style_loss(
    gram: Tensor,
    target: Tensor | Sequence[Tensor],
    weights: Sequence[float] | None = None,
    reduction: Reduction = "sum",
) -> Tensor:
    """Squared distance between Gram matrices (Gatys et al. 2015, eq. 4).

    Args:
        gram: Tensor of dimension ``(B, C, C)``, from :func:`shared.gram_matrix`.
        target: One target Gram ``(C, C)`` / ``(1, C, C)`` / ``(B, C, C)``, or a sequence of
            such targets blended with ``weights`` (see :func:`shared.blend_grams`).
        weights: Blend weights for a sequence of targets (default equal; normalised to sum 1).
        reduction: ``"sum"`` or ``"mean"`` of the squared differences.

    Returns:
        Scalar tensor.
    """
    if not isinstance(target, Tensor):
        target = blend_grams(list(target), weights)
    elif weights is not None:
        raise ValueError("weights only apply when target is a sequence of Gram matrices")
    if gram.dim() != 3 or gram.shape[-1] != gram.shape[-2]:
        raise ValueError(f"gram must have shape (B, C, C), got {tuple(gram.shape)}")
    if target.shape[-2:] != gram.shape[-2:]:
        raise ValueError(
            f"target Gram has shape {tuple(target.shape)}, input Gram {tuple(gram.shape)}"
        )
    return _reduce((gram - target) ** 2, reduction)


def gram_style_loss(
    features: Tensor,
    target: Tensor,
    normalize: GramNormalize = "positions",
    reduction: Reduction = "sum",
) -> Tensor:
    """``style_loss(gram_matrix(features, normalize), target, reduction=reduction)`` in one pass.

    The same value and gradient, computed without the intermediate passes over ``C x C``
    arrays that autograd would make: the backward is one product,
    ``dF = 4 s (G - target) F`` (times ``1 / (B C^2)`` for ``"mean"``), which holds because
    ``G - target`` is symmetric. For the audio network's 4096 channels those passes cost
    as much as a tenth of a loss evaluation.

    Args:
        features: Tensor of dimension ``(B, C, *spatial)``.
        target: A symmetric target Gram ``(C, C)``, ``(1, C, C)`` or ``(B, C, C)`` (as
            :func:`gram_matrix` and :func:`blend_grams` make); it gets no gradient.
        normalize: Gram normalisation, as in :func:`gram_matrix`.
        reduction: ``"sum"`` or ``"mean"`` of the squared differences.

    Returns:
        Scalar tensor.
    """
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    if features.dim() < 3:
        raise ValueError(f"features must be (B, C, *spatial), got {features.dim()} dimensions")
    c = features.shape[1]
    if target.shape[-2:] != (c, c):
        raise ValueError(f"target Gram has shape {tuple(target.shape)}, features have {c} channels")
    if target.requires_grad:  # the fused backward gives the target no gradient
        return style_loss(gram_matrix(features, normalize), target, reduction=reduction)
    f = torch.flatten(features, 2)  # (B, C, N)
    scale = gram_scale(normalize, c, f.shape[-1])
    return _GramStyleLoss.apply(f, target.reshape(-1, c, c), scale, reduction == "mean")


class _GramStyleLoss(torch.autograd.Function):
    @staticmethod
    def forward(ctx, f: Tensor, target: Tensor, scale: float, mean: bool) -> Tensor:  # type: ignore[override]
        diff = torch.bmm(f, f.transpose(1, 2))  # (B, C, C)
        if scale != 1.0:
            diff.mul_(scale)
        diff.sub_(target)  # G - target, (B, C, C)
        flat = diff.reshape(-1)
        loss = torch.dot(flat, flat)
        divisor = float(flat.numel()) if mean else 1.0
        ctx.save_for_backward(f, diff)
        ctx.factor = 4.0 * scale / divisor
        return loss / divisor if mean else loss

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: Tensor) -> tuple[Tensor | None, None, None, None]:  # type: ignore[override]
        f, diff = ctx.saved_tensors
        if not ctx.needs_input_grad[0]:
            return None, None, None, None
        return symmetric_times(diff, f).mul_(grad * ctx.factor), None, None, None  # (B, C, N)


def tv_loss(x: Tensor, reduction: Reduction = "sum") -> Tensor:
    """Total-variation regulariser: squared differences of neighbours along each spatial dim.

    Johnson et al. (2016) and jcjohnson/neural-style add it to smooth the result.

    Args:
        x: Tensor of dimension ``(B, C, *spatial)``; ``(B, C, H, W)`` for images.
        reduction: ``"sum"`` or ``"mean"`` (mean over each difference tensor, then summed).

    Returns:
        Scalar tensor.
    """
    if x.dim() < 3:
        raise ValueError(f"tv_loss expects (B, C, *spatial), got {x.dim()} dimensions")
    total = x.new_zeros(())
    for dim in range(2, x.dim()):
        if x.shape[dim] < 2:
            continue
        diff = torch.diff(x, dim=dim)
        total = total + _reduce(diff**2, reduction)
    return total
