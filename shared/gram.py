"""Gram matrices of feature maps, for any number of spatial (or temporal) dimensions.

The Gram matrix ``G = F F^T`` of a feature map ``F`` of shape ``(C, N)`` holds the
correlations between channels summed over all ``N`` positions. It is the "style"
representation of Gatys, Ecker & Bethge (2015, texture synthesis; 2016, style transfer)
and of Ulyanov & Lebedev (2016, audio texture synthesis and style transfer).
"""

from __future__ import annotations

import math
from typing import Literal, Sequence

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

GramNormalize = Literal["positions", "channels_positions", "none"]
_NORMALIZE = ("positions", "channels_positions", "none")


def gram_matrix(features: Tensor, normalize: GramNormalize = "positions") -> Tensor:
    """Channel-by-channel Gram matrix of a batch of feature maps.

    Args:
        features: Tensor of dimension ``(B, C, *spatial)`` with at least one spatial
            dimension: ``(B, C, T)`` for audio frames, ``(B, C, H, W)`` for images.
        normalize: What ``F F^T`` is divided by, with ``N`` the number of positions
            (``prod(spatial)``) and ``C`` the number of channels:

            * ``"positions"`` (default): ``N``. Ulyanov & Lebedev's audio code and pystiche do
              this; it makes the Gram a mean over positions, so clips and images of any length
              or size give comparable statistics (a 3-minute style clip can be matched by a
              10-second result without cropping).
            * ``"channels_positions"``: ``C * N``, as jcjohnson/neural-style does.
            * ``"none"``: the raw sum of Gatys et al. (2015).

    Returns:
        Tensor of dimension ``(B, C, C)``, symmetric and positive semi-definite.
    """
    if not isinstance(features, Tensor):
        raise TypeError(f"gram_matrix expects a torch.Tensor, got {type(features).__name__}")
    if features.dim() < 3:
        raise ValueError(
            "gram_matrix expects features of shape (B, C, *spatial) with at least one spatial "
            f"dimension, but got a tensor with {features.dim()} dimensions"
        )
    if normalize not in _NORMALIZE:
        raise ValueError(f"normalize must be one of {_NORMALIZE}, got {normalize!r}")
    b, c = features.shape[:2]
    f = torch.flatten(features, 2)  # (B, C, N)
    n = f.shape[-1]
    return _Gram.apply(f, gram_scale(normalize, c, n))  # (B, C, C)


def gram_scale(normalize: GramNormalize, channels: int, positions: int) -> float:
    """The factor :func:`gram_matrix` multiplies ``F F^T`` by."""
    if normalize not in _NORMALIZE:
        raise ValueError(f"normalize must be one of {_NORMALIZE}, got {normalize!r}")
    return {"positions": 1.0 / positions, "channels_positions": 1.0 / (channels * positions),
            "none": 1.0}[normalize]


class _Gram(torch.autograd.Function):
    """``G = s * F F^T`` with a backward that uses the symmetry of ``G``.

    Autograd through ``bmm(F, F^T)`` spends two ``C x C x N`` products on the gradient
    (``dG F`` and ``dG^T F``); since ``dF = s (dG + dG^T) F`` one product suffices. For the
    audio network (C = 4096 filters) that is a sixth of the work of a whole loss evaluation.
    """

    @staticmethod
    def forward(ctx, f: Tensor, scale: float) -> Tensor:  # type: ignore[override]
        ctx.save_for_backward(f)
        ctx.scale = scale
        gram = torch.bmm(f, f.transpose(1, 2))  # (B, C, C)
        return gram.mul_(scale) if scale != 1.0 else gram

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: Tensor) -> tuple[Tensor | None, None]:  # type: ignore[override]
        (f,) = ctx.saved_tensors
        if not ctx.needs_input_grad[0]:
            return None, None
        sym = grad + grad.transpose(1, 2)  # (B, C, C)
        return symmetric_times(sym, f).mul_(ctx.scale), None  # (B, C, N)


def symmetric_times(sym: Tensor, f: Tensor) -> Tensor:
    """``sym @ f`` for a symmetric ``sym`` (B, C, C) and ``f`` (B, C, N), computed as
    ``(f^T sym)^T``; returns a (B, C, N) view of a (B, N, C) result.

    The same product, but the layout suits the CPU's BLAS far better when ``C >> N``: for the
    audio network's Gram gradient (C = 4096, N = 421) 88 ms against 131 ms for ``bmm(sym, f)``
    on the 2-core machine (no worse at the image and training shapes measured).
    """
    return torch.bmm(f.transpose(1, 2), sym).transpose(1, 2)


class GramSum:
    """A Gram matrix accumulated over chunks of positions, for inputs too long for one pass.

    :meth:`add` takes each chunk's features ``(B, C, *spatial)`` (chunks must not overlap) and
    adds their unnormalised ``F F^T`` (:func:`gram_matrix` with ``normalize="none"``);
    :meth:`result` divides the sum as :func:`gram_matrix` would have divided the Gram of all
    the chunks at once. Memory is one chunk's features and one ``(B, C, C)`` sum.
    """

    def __init__(self) -> None:
        self.total: Tensor | None = None  # (B, C, C)
        self.positions = 0

    def add(self, features: Tensor) -> None:
        """Add one chunk's ``(B, C, *spatial)`` features."""
        part = gram_matrix(features, "none")  # (B, C, C)
        self.total = part if self.total is None else self.total.add_(part)
        self.positions += math.prod(features.shape[2:])

    def result(self, normalize: GramNormalize = "positions") -> Tensor:
        """The Gram of every chunk added, ``(B, C, C)``, normalised as :func:`gram_matrix`."""
        if self.total is None:
            raise ValueError("GramSum.result needs at least one chunk of features")
        if normalize == "positions":
            return self.total / self.positions
        return self.total * gram_scale(normalize, self.total.shape[-1], self.positions)


def blend_grams(grams: Sequence[Tensor], weights: Sequence[float] | None = None) -> Tensor:
    """Weighted average of several target Gram matrices (several style sources).

    jcjohnson/neural-style blends several style images this way: the weights are
    normalised to sum to 1 and the blended Gram is the single target.

    Args:
        grams: Sequence of tensors, each ``(C, C)`` or ``(1, C, C)``, all of one shape.
        weights: One non-negative weight per Gram (default: equal weights).

    Returns:
        Tensor of the shape of one input Gram.
    """
    if len(grams) == 0:
        raise ValueError("blend_grams needs at least one Gram matrix")
    weights = normalize_blend_weights(len(grams), weights)
    shapes = {tuple(g.shape) for g in grams}
    if len(shapes) != 1:
        raise ValueError(f"all Gram matrices to blend must have one shape, got {sorted(shapes)}")
    out = grams[0] * weights[0]
    for g, w in zip(grams[1:], weights[1:]):
        out = out + g * w
    return out


def normalize_blend_weights(count: int, weights: Sequence[float] | None) -> list[float]:
    """Check ``count`` blend weights and scale them to sum to 1 (equal when ``None``)."""
    if weights is None:
        return [1.0 / count] * count
    weights = [float(w) for w in weights]
    if len(weights) != count:
        raise ValueError(f"got {len(weights)} blend weights for {count} styles; give one per style")
    if any(not (w >= 0.0) or w == float("inf") for w in weights):
        raise ValueError(f"blend weights must be finite and non-negative, got {weights}")
    total = sum(weights)
    if total <= 0:
        raise ValueError(f"blend weights must not all be zero, got {weights}")
    return [w / total for w in weights]
