"""The feature network: untrained random 1-D convolutions over time, bins as channels.

Ulyanov & Lebedev (2016) use ONE convolution (4096 filters of width 11, no padding, no bias,
ReLU) with weights ~ N(0, std^2), ``std = sqrt(2) * sqrt(2 / ((bins + filters) * width))``,
never trained. Antognini, Hoffman & Weiss (2019) showed that a bank of such layers with several
widths captures structure at several time scales; :class:`RandomConvBank` holds one layer per
width, each with its own filters, and names its outputs ``"conv<width>"``.

The convolution runs through ``F.conv1d`` (oneDNN on the CPU, cuDNN on CUDA): an im2col + matmul
variant lost to it on the 2-core CPU (forward + input gradient at the reference's shape:
0.62-0.67 s against 0.49-0.50 s).

``precision="bf16"`` (see :class:`RandomConvBank`) runs the convolution of a spectrogram that
requires grad in bfloat16 around an exact float32 anchor.
"""

from __future__ import annotations

import math
from typing import Literal, Optional, Sequence

import torch
from torch import Tensor, nn

Precision = Literal["fp32", "bf16"]
PRECISIONS: tuple[str, ...] = ("fp32", "bf16")


def filter_std(bins: int, filters: int, width: int) -> float:
    """The reference's weight scale: ``sqrt(2) * sqrt(2 / ((bins + filters) * width))``."""
    return math.sqrt(2.0) * math.sqrt(2.0 / ((bins + filters) * width))


def random_filters(bins: int, filters: int, width: int,
                   generator: Optional[torch.Generator] = None) -> Tensor:
    """Random weights of dimension ``(filters, bins, width)`` ~ N(0, :func:`filter_std` ^ 2)."""
    w = torch.randn(filters, bins, width, generator=generator)  # (C, F, K)
    return w * filter_std(bins, filters, width)


class RandomConvBank(nn.Module):
    """Untrained random 1-D convolutions (one per kernel width) followed by ReLU.

    Args:
        bins: Input channels (frequency bins, ``n_fft // 2 + 1``).
        filters: Filters per width (the reference: 4096).
        kernel_widths: Widths in frames (the reference: ``(11,)``).
        seed: Seeds the weights, so a seed names a network.
        precision: ``"fp32"`` (exact, the reference's) or ``"bf16"``: when the spectrogram
            requires grad (the optimised variable), ``conv(x) = conv(a) + conv_bf16(x - a)``
            with ``conv(a)`` of an anchor ``a`` computed once in float32 and refreshed every
            ``anchor_refresh`` calls. Only the displacement from the anchor is rounded to
            bfloat16, so small optimiser steps are not lost to its 8-bit mantissa as they
            would be under plain autocast, and the input gradient (the transposed
            convolution) is computed in bfloat16 too. Targets (no grad) are always float32.
        anchor_refresh: Calls between anchor refreshes (``precision="bf16"`` only).

    The weights are buffers (``.to(device)`` moves them; they never require grad).
    """

    def __init__(self, bins: int, filters: int = 4096, kernel_widths: Sequence[int] = (11,),
                 seed: int = 0, precision: Precision = "fp32", anchor_refresh: int = 20) -> None:
        super().__init__()
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
        if anchor_refresh < 1:
            raise ValueError(f"anchor_refresh must be at least 1, got {anchor_refresh}")
        self.precision: Precision = precision
        self.anchor_refresh = int(anchor_refresh)
        self.bins, self.filters = int(bins), int(filters)
        self.kernel_widths = tuple(int(k) for k in kernel_widths)
        generator = torch.Generator().manual_seed(int(seed))
        for k in self.kernel_widths:
            self.register_buffer(f"weight_{k}", random_filters(self.bins, self.filters, k,
                                                               generator))
        self._anchor: Optional[Tensor] = None  # (B, bins, T) float32
        self._anchor_out: dict[int, Tensor] = {}  # width -> (B, C, T - K + 1) float32
        self._weight_cast: dict[int, Tensor] = {}  # width -> (C, bins, K) in another dtype
        self._anchor_age = 0

    @property
    def layer_names(self) -> list[str]:
        """Output names, one per width: ``["conv11"]`` by default."""
        return [f"conv{k}" for k in self.kernel_widths]

    @property
    def receptive_frames(self) -> int:
        """Frames the widest layer needs."""
        return max(self.kernel_widths)

    @property
    def device(self) -> torch.device:
        """Where the weights are."""
        return self.weight(self.kernel_widths[0]).device

    def weight(self, width: int) -> Tensor:
        """Weights of one width, ``(filters, bins, width)``."""
        return getattr(self, f"weight_{width}")

    def forward(self, spec: Tensor, chosen: Optional[Tensor] = None,
                dtype: Optional[torch.dtype] = None) -> dict[str, Tensor]:
        """Features of a log spectrogram.

        Args:
            spec: ``(B, bins, T)`` with ``T >= max(kernel_widths)``.
            chosen: Indices ``(M,)`` of the filters to compute (a training step's subset);
                None: all.
            dtype: The convolution's arithmetic without the bf16 anchor (a training step's
                ``torch.bfloat16``: a new batch every step, so there are no small steps for
                the anchor to keep); the features come back in ``spec``'s dtype. With
                ``chosen`` and no ``dtype``, ``spec``'s. None and no ``chosen``: the bank's
                ``precision``.

        Returns:
            ``{"conv<K>": (B, filters, T - K + 1)}`` for each width ``K`` (``M`` channels with
            ``chosen``).
        """
        if spec.dim() != 3 or spec.shape[1] != self.bins:
            raise ValueError(f"RandomConvBank expects (B, {self.bins}, T) spectrograms, got "
                             f"{tuple(spec.shape)}")
        if spec.shape[-1] < self.receptive_frames:
            raise ValueError(f"input has {spec.shape[-1]} frames, fewer than the kernel width "
                             f"{self.receptive_frames}")
        if chosen is not None or dtype is not None:
            x = spec if dtype is None else spec.to(dtype)
            return {f"conv{k}": torch.relu_(nn.functional.conv1d(
                x, self._weights(k, x.dtype, chosen))).to(spec.dtype)
                for k in self.kernel_widths}
        anchored = self.precision == "bf16" and spec.requires_grad
        if anchored:
            self._refresh_anchor(spec)
        # ReLU in place: the convolution's backward needs only its input, so this saves one
        # feature-sized buffer (400 MB for 10 minutes of audio at 4096 filters).
        return {f"conv{k}": torch.relu_(self._anchored_conv(spec, k) if anchored else
                                        nn.functional.conv1d(spec, self.weight(k)))
                for k in self.kernel_widths}  # each (B, C, T - K + 1)

    def _refresh_anchor(self, spec: Tensor) -> None:
        a = self._anchor
        if a is None or a.shape != spec.shape or a.device != spec.device or \
                self._anchor_age >= self.anchor_refresh or \
                float((spec.detach() - a).norm()) > 0.5 * float(spec.detach().norm()):
            self._anchor = spec.detach().clone()
            with torch.no_grad():
                self._anchor_out = {k: nn.functional.conv1d(self._anchor, self.weight(k))
                                    for k in self.kernel_widths}
            self._anchor_age = 0
        self._anchor_age += 1

    def _anchored_conv(self, spec: Tensor, k: int) -> Tensor:
        assert self._anchor is not None
        delta = (spec - self._anchor).to(torch.bfloat16)  # (B, F, T)
        return self._anchor_out[k] + nn.functional.conv1d(
            delta, self._weights(k, torch.bfloat16)).float()  # (B, C, T')

    def _weights(self, k: int, dtype: torch.dtype, chosen: Optional[Tensor] = None) -> Tensor:
        """Width ``k``'s weights ``(C or M, bins, k)`` in ``dtype`` (a cast kept until the
        weights move), the ``chosen`` filters' only if given."""
        w = self.weight(k)
        if w.dtype != dtype:
            cast = self._weight_cast.get(k)
            if cast is None or cast.dtype != dtype or cast.device != w.device:
                cast = self._weight_cast[k] = w.to(dtype)
            w = cast
        return w if chosen is None else w.index_select(0, chosen)

    def flops_per_evaluation(self, frames: int, content: bool = True) -> float:
        """Floating-point operations of one loss-and-gradient evaluation on ``frames`` frames.

        Counts the matrix multiplies as executed: the convolution forward and its input
        gradient (``2 * C * F * K * T'`` each), the Gram forward (``2 * C^2 * T'``) and the one
        product of its fused backward (``2 * C^2 * T'``, :func:`shared.gram_style_loss`), plus
        the elementwise passes (ReLU, content difference, Gram difference), which are small.
        """
        total = 0.0
        for k in self.kernel_widths:
            t_out = frames - k + 1
            conv = 2.0 * self.filters * self.bins * k * t_out
            gram = 2.0 * self.filters * self.filters * t_out
            elementwise = 4.0 * self.filters * t_out * (2 if content else 1) \
                + 2.0 * self.filters * self.filters
            total += 2 * conv + 2 * gram + elementwise
        return total


__all__ = ["PRECISIONS", "Precision", "RandomConvBank", "filter_std", "random_filters"]
