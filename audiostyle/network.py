"""The feature network: untrained random 1-D convolutions over time, bins as channels.

Ulyanov & Lebedev (2016) use ONE convolution (4096 filters of width 11, no padding, no bias,
ReLU) with weights ~ N(0, std^2), ``std = sqrt(2) * sqrt(2 / ((bins + filters) * width))``,
never trained. Antognini, Hoffman & Weiss (2019) showed that a bank of such layers with several
widths captures structure at several time scales; :class:`RandomConvBank` holds one layer per
width, each with its own filters, and names its outputs ``"conv<width>"``.

The convolution runs through ``F.conv1d`` (oneDNN on the CPU, cuDNN on CUDA): measured on the
2-core CPU of the project's machine, its forward + input gradient at the reference's shape
reached 257 GFLOP/s, above the 195 GFLOP/s of a float32 matmul (MKL) of the same size, while
im2col + matmul (:func:`conv1d_gemm`, ``backend="gemm"``) reached 175 GFLOP/s. The im2col
version is kept, chunked over time so that it never materialises the whole column matrix, for
back ends without a fast direct convolution.
"""

from __future__ import annotations

import math
from typing import Any, Literal, Optional, Sequence

import torch
from torch import Tensor, nn


def filter_std(bins: int, filters: int, width: int) -> float:
    """The reference's weight scale: ``sqrt(2) * sqrt(2 / ((bins + filters) * width))``."""
    return math.sqrt(2.0) * math.sqrt(2.0 / ((bins + filters) * width))


def random_filters(bins: int, filters: int, width: int,
                   generator: Optional[torch.Generator] = None) -> Tensor:
    """Random weights of dimension ``(filters, bins, width)`` ~ N(0, :func:`filter_std` ^ 2)."""
    w = torch.randn(filters, bins, width, generator=generator)  # (C, F, K)
    return w * filter_std(bins, filters, width)


def _im2col(x: Tensor, width: int, start: int, stop: int) -> Tensor:
    """Columns of output frames ``start..stop-1``: ``(B, F, T)`` -> ``(B, F * K, stop - start)``."""
    b, f, _ = x.shape
    cols = x[:, :, start: stop + width - 1].unfold(2, width, 1)  # (B, F, n, K)
    return cols.transpose(2, 3).reshape(b, f * width, stop - start)  # (B, F*K, n)


class _Conv1dGemm(torch.autograd.Function):
    """Valid 1-D convolution by chunked im2col + matmul; saves only the input for backward."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, weight2d: Tensor, width: int, chunk: int) -> Tensor:
        b, _, t = x.shape
        out_frames = t - width + 1
        y = x.new_empty(b, weight2d.shape[0], out_frames)  # (B, C, T')
        for start in range(0, out_frames, chunk):
            stop = min(start + chunk, out_frames)
            torch.matmul(weight2d, _im2col(x, width, start, stop), out=y[:, :, start:stop])
        ctx.save_for_backward(weight2d)
        ctx.shape = (b, x.shape[1], t)
        ctx.width, ctx.chunk = width, chunk
        return y

    @staticmethod
    def backward(ctx: Any, grad_y: Tensor) -> tuple[Optional[Tensor], None, None, None]:
        (weight2d,) = ctx.saved_tensors
        b, f, t = ctx.shape
        width, chunk = ctx.width, ctx.chunk
        out_frames = grad_y.shape[-1]
        grad_x = grad_y.new_zeros(b, f, t)  # (B, F, T)
        wt = weight2d.t()  # (F*K, C)
        for start in range(0, out_frames, chunk):
            stop = min(start + chunk, out_frames)
            cols = torch.matmul(wt, grad_y[:, :, start:stop])  # (B, F*K, n)
            cols = cols.view(b, f, width, stop - start)  # (B, F, K, n)
            for k in range(width):  # col2im: tap k of frame s reads input frame s + k
                grad_x[:, :, start + k: stop + k] += cols[:, :, k]
        return grad_x, None, None, None


def conv1d_gemm(x: Tensor, weight: Tensor, chunk_frames: int = 4096) -> Tensor:
    """``F.conv1d(x, weight)`` (valid, stride 1, no bias) as chunked im2col + matmul.

    Args:
        x: Input of dimension ``(B, F, T)`` (gradients flow to it).
        weight: Constant weights ``(C, F, K)`` (no gradient is computed for them).
        chunk_frames: Output frames per matmul; bounds the im2col buffer to
            ``F * K * chunk_frames`` floats.

    Returns:
        Tensor of dimension ``(B, C, T - K + 1)``.
    """
    if x.dim() != 3 or weight.dim() != 3 or x.shape[1] != weight.shape[1]:
        raise ValueError(f"conv1d_gemm expects x (B, F, T) and weight (C, F, K), got "
                         f"{tuple(x.shape)} and {tuple(weight.shape)}")
    width = weight.shape[-1]
    if x.shape[-1] < width:
        raise ValueError(f"input has {x.shape[-1]} frames, fewer than the kernel width {width}")
    weight2d = weight.detach().reshape(weight.shape[0], -1)  # (C, F*K), column f*K + k
    return _Conv1dGemm.apply(x, weight2d, width, int(chunk_frames))


class RandomConvBank(nn.Module):
    """Untrained random 1-D convolutions (one per kernel width) followed by ReLU.

    Args:
        bins: Input channels (frequency bins, ``n_fft // 2 + 1``).
        filters: Filters per width (the reference: 4096).
        kernel_widths: Widths in frames (the reference: ``(11,)``).
        seed: Seeds the weights, so a seed names a network.
        chunk_frames: See :func:`conv1d_gemm` (``backend="gemm"`` only).
        backend: ``"conv1d"`` (``F.conv1d``, the faster where measured) or ``"gemm"``
            (:func:`conv1d_gemm`).

    The weights are buffers (``.to(device)`` moves them; they never require grad).
    """

    def __init__(self, bins: int, filters: int = 4096, kernel_widths: Sequence[int] = (11,),
                 seed: int = 0, chunk_frames: int = 4096,
                 backend: Literal["conv1d", "gemm"] = "conv1d") -> None:
        super().__init__()
        if backend not in ("conv1d", "gemm"):
            raise ValueError(f"backend must be 'conv1d' or 'gemm', got {backend!r}")
        self.backend = backend
        self.bins, self.filters = int(bins), int(filters)
        self.kernel_widths = tuple(int(k) for k in kernel_widths)
        self.chunk_frames = int(chunk_frames)
        generator = torch.Generator().manual_seed(int(seed))
        for k in self.kernel_widths:
            self.register_buffer(f"weight_{k}", random_filters(self.bins, self.filters, k,
                                                               generator))

    @property
    def layer_names(self) -> list[str]:
        """Output names, one per width: ``["conv11"]`` by default."""
        return [f"conv{k}" for k in self.kernel_widths]

    @property
    def receptive_frames(self) -> int:
        """Frames the widest layer needs."""
        return max(self.kernel_widths)

    def weight(self, width: int) -> Tensor:
        """Weights of one width, ``(filters, bins, width)``."""
        return getattr(self, f"weight_{width}")

    def forward(self, spec: Tensor) -> dict[str, Tensor]:
        """Features of a log spectrogram.

        Args:
            spec: ``(B, bins, T)`` with ``T >= max(kernel_widths)``.

        Returns:
            ``{"conv<K>": (B, filters, T - K + 1)}`` for each width ``K``.
        """
        if spec.dim() != 3 or spec.shape[1] != self.bins:
            raise ValueError(f"RandomConvBank expects (B, {self.bins}, T) spectrograms, got "
                             f"{tuple(spec.shape)}")
        # ReLU in place: the convolution's backward needs only its input, so this saves one
        # feature-sized buffer (400 MB for 10 minutes of audio at 4096 filters).
        return {f"conv{k}": torch.relu_(self._conv(spec, self.weight(k)))
                for k in self.kernel_widths}  # each (B, C, T - K + 1)

    def _conv(self, spec: Tensor, weight: Tensor) -> Tensor:
        if self.backend == "gemm":
            return conv1d_gemm(spec, weight, self.chunk_frames)  # (B, C, T')
        return torch.nn.functional.conv1d(spec, weight)  # (B, C, T')

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


__all__ = ["RandomConvBank", "conv1d_gemm", "filter_std", "random_filters"]
