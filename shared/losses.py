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

from .gram import blend_grams

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
