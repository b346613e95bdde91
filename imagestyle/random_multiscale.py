"""A single layer of random convolution filters at several sizes: texture features without
any trained network (Ustyuzhaninov, Brendel, Gatys & Bethge, ICLR 2017, "What does it take to
generate natural textures?").

The paper's "multi-scale" model is one convolutional layer whose filters have several spatial
sizes (3 to 55 px), random weights, a ReLU and no pooling; matching the Gram matrices of its
responses with L-BFGS synthesises textures close to those of a trained VGG-19.

Layers are named by filter size: ``scale3``, ``scale5``, ``scale7``, ``scale11``, ``scale15``,
``scale23``, ``scale37``, ``scale55`` (each ``(B, channels, H_l, W_l)``), one Gram matrix per
scale.

.. note::
   Departures from the paper, for speed on ordinary CPUs and for images of any size:

   * Filters wider than ``max_kernel`` (13 px) run on the image downsampled (tent filter,
     stride ``d``) by a power of two ``d`` (2 for 15 and 23 px, 4 for 37 px, 8 for 55 px) with a kernel of about ``k / d`` taps,
     so they cover the same field of view. A 55 x 55 x 3 x 128 convolution at full resolution
     costs about 2.3 MFLOP per pixel (150 GFLOP for one 256 px forward pass); pooled, the whole
     eight-scale layer costs about 1/25 of that, and its Gram matrices are cheaper too. The
     large scales then see a low-pass image, which is what they measure anyway (the fine
     detail is matched by the small scales).
   * One Gram matrix per scale (the paper concatenates all 1024 maps into one Gram); the
     per-scale Grams are cheaper (8 x 128^2 instead of 1024^2 per position) and let the user
     weight scales separately (``style_layer_weights={"scale3": 2.0, "scale55": 1.0}``).
   * Filters are Gaussian with each filter scaled to unit norm, so every scale responds with a
     similar magnitude and no scale dominates the loss; inputs are centred with the ImageNet
     mean and standard deviation.
   * "Valid" convolution (no padding, so no artificial borders in the statistics); an input
     smaller than a kernel is reflection-padded up to the kernel size.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from shared.device import compute_dtype

from .vgg import IMAGENET_MEAN, IMAGENET_STD

KERNEL_SIZES: tuple[int, ...] = (3, 5, 7, 11, 15, 23, 37, 55)
CHANNELS = 128  # filters per scale, as in the paper (8 scales x 128 = 1024 feature maps)
MAX_KERNEL = 13  # widest kernel run at full resolution; wider ones run on a pooled image


def layer_name(kernel_size: int) -> str:
    """Name of the layer of filters of ``kernel_size`` px: ``scale<k>``."""
    return f"scale{kernel_size}"


def pooled_kernel(kernel_size: int, max_kernel: int = MAX_KERNEL) -> tuple[int, int]:
    """``(d, k')``: the power-of-two pooling factor and the odd kernel size used on the pooled
    image so that ``d * k'`` is about ``kernel_size`` and ``k' <= max_kernel``."""
    d = 1
    while kernel_size / d > max_kernel:
        d *= 2
    k = int(round(kernel_size / d))
    if k % 2 == 0:  # keep kernels odd (a centre tap), rounding towards the true size
        k = k - 1 if (k - 1) * d >= kernel_size - d else k + 1
    return d, max(1, min(k, max_kernel if d > 1 else kernel_size))


@dataclass(frozen=True)
class MultiscaleLayout:
    """The layer layout of the random multi-scale layer (the counterpart of
    :class:`imagestyle.vgg.VGGLayout`): every scale reads the image, none reads another.

    Build it with :func:`multiscale_layout`.

    Attributes:
        names: Layer names in order, ``scale3`` ... ``scale55``.
        kernel_sizes: Nominal filter size of each layer.
        width: Filters per scale (every layer's channel count).
        plans: ``(d, k')`` of each layer (:func:`pooled_kernel`): the image is pooled by ``d``
            and filtered with ``k' x k'`` taps, so a layer's output is about
            ``(B, width, H // d - k' + 1, W // d - k' + 1)``.
    """

    names: tuple[str, ...]
    kernel_sizes: tuple[int, ...]
    width: int
    plans: tuple[tuple[int, int], ...]

    def index(self, name: str) -> int:
        """Position of ``name`` in :attr:`names`."""
        try:
            return self.names.index(name)
        except ValueError:
            raise ValueError(f"unknown random-multiscale layer {name}; valid layers: "
                             f"{', '.join(self.names)}") from None

    def channels(self, name: str) -> int:
        """Channels of layer ``name``'s output (the same for every scale)."""
        self.index(name)
        return self.width

    def stride(self, name: str) -> int:
        """Pooling factor ``d`` of the image layer ``name`` filters."""
        return self.plans[self.index(name)][0]

    def taps(self, name: str) -> int:
        """Kernel taps ``k'`` of layer ``name`` on its pooled image."""
        return self.plans[self.index(name)][1]


def multiscale_layout(kernel_sizes: Sequence[int] = KERNEL_SIZES, channels: int = CHANNELS,
                      max_kernel: int = MAX_KERNEL) -> MultiscaleLayout:
    """The :class:`MultiscaleLayout` of a layer with these settings (built once per setting)."""
    return _multiscale_layout(tuple(int(k) for k in kernel_sizes), int(channels), int(max_kernel))


@functools.lru_cache(maxsize=None)
def _multiscale_layout(kernel_sizes: tuple[int, ...], channels: int, max_kernel: int
                       ) -> MultiscaleLayout:
    if channels < 1:
        raise ValueError(f"channels must be positive, got {channels}")
    if any(k < 1 for k in kernel_sizes):
        raise ValueError(f"kernel sizes must be positive, got {list(kernel_sizes)}")
    return MultiscaleLayout(tuple(layer_name(k) for k in kernel_sizes), tuple(kernel_sizes),
                            int(channels), tuple(pooled_kernel(k, max_kernel) for k in kernel_sizes))


class RandomMultiscaleFeatures(nn.Module):
    """One layer of random multi-size filters with a ReLU (Ustyuzhaninov et al. 2017).

    Args:
        layers: Names of the scales to compute (``scale3`` ... ``scale55``); only those are
            computed.
        kernel_sizes: Filter sizes of the whole layer (defines the valid names).
        channels: Filters per scale.
        seed: Seed of the filter weights (the same seed gives the same network).
        max_kernel: Widest kernel run at full resolution (see the module note).
        precision: ``"fp32"`` or ``"bf16"``: the filters are stored, and the convolutions
            run, in bfloat16 (the input is centred in its own dtype first, and the features
            come back in it).

    ``forward(image)`` takes RGB images ``(B, 3, H, W)`` in [0, 1] and returns
    ``{name: (B, channels, H_l, W_l)}``. The weights are buffers (never trained), so
    ``.to(device)`` moves them and ``state_dict`` saves them.
    """

    def __init__(
        self,
        layers: Sequence[str] = (),
        *,
        kernel_sizes: Sequence[int] = KERNEL_SIZES,
        channels: int = CHANNELS,
        seed: int = 0,
        max_kernel: int = MAX_KERNEL,
        precision: str = "fp32",
    ) -> None:
        super().__init__()
        dtype = compute_dtype(precision)
        self.precision = precision
        self.layout = multiscale_layout(kernel_sizes, channels, max_kernel)
        self.available_layers = list(self.layout.names)
        layers = list(dict.fromkeys(layers)) or list(self.available_layers)
        unknown = [n for n in layers if n not in self.available_layers]
        if unknown:
            raise ValueError(f"unknown random-multiscale layer(s) {', '.join(unknown)}; valid "
                             f"layers: {', '.join(self.available_layers)}")
        self.layers = layers
        self.channels = self.layout.width
        self.kernel_sizes = self.layout.kernel_sizes
        self.plan: dict[str, tuple[int, int]] = {}  # name -> (pool factor, kernel taps)
        gen = torch.Generator().manual_seed(int(seed))
        for name in self.layout.names:
            d, taps = self.layout.stride(name), self.layout.taps(name)
            # Draw every scale's weights, used or not, so a scale's filters do not depend on
            # which other layers were asked for.
            w = torch.randn(self.channels, 3, taps, taps, generator=gen)  # (C, 3, k', k')
            w = w / w.flatten(1).norm(dim=1).view(-1, 1, 1, 1)
            if name in layers:
                self.plan[name] = (d, taps)
                self.register_buffer(f"weight_{name}", w.to(dtype))
        for d in sorted({d for d, _ in self.plan.values()} - {1}):
            self.register_buffer(f"tent_{d}", tent_kernel(d).to(dtype))
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> "RandomMultiscaleFeatures":
        return super().train(False)  # always a fixed feature extractor

    def forward(self, image: Tensor) -> dict[str, Tensor]:
        if image.dim() != 4 or image.shape[1] != 3:
            raise ValueError(f"RandomMultiscaleFeatures expects (B, 3, H, W) images, got "
                             f"{tuple(image.shape)}")
        dtype = getattr(self, f"weight_{self.layers[0]}").dtype  # the filters' (precision)
        x = ((image - self.mean) / self.std).to(dtype)  # (B, 3, H, W)
        pooled: dict[int, Tensor] = {1: x}
        out: dict[str, Tensor] = {}
        for name in self.layers:
            d, taps = self.plan[name]
            if d not in pooled:
                pooled[d] = _downsample(x, getattr(self, f"tent_{d}"), d)  # (B, 3, H/d, W/d)
            xd = _pad_to(pooled[d], taps)
            out[name] = F.relu(F.conv2d(xd, getattr(self, f"weight_{name}"))
                               ).to(image.dtype)  # (B, C, H', W')
        return out


def tent_kernel(factor: int) -> Tensor:
    """Separable tent (triangle) filter of ``2 * factor - 1`` taps, ``(3, 1, K, K)``, summing to
    1: antialiasing for a stride-``factor`` downsampling whose footprints overlap, so the
    gradient reaching the image has no ``factor``-pixel block edges (a box filter leaves a grid
    of seams in synthesised textures)."""
    ramp = torch.cat([torch.arange(1, factor + 1), torch.arange(factor - 1, 0, -1)]).float()
    ramp = ramp / ramp.sum()  # (K,)
    return (ramp[:, None] * ramp[None, :]).expand(3, 1, -1, -1).contiguous()  # (3, 1, K, K)


def _downsample(x: Tensor, kernel: Tensor, factor: int) -> Tensor:
    """``(B, 3, H, W)`` -> ``(B, 3, ~H/factor, ~W/factor)``: tent filter, stride ``factor``."""
    x = _pad_to(x, kernel.shape[-1])
    return F.conv2d(x, kernel, stride=factor, groups=3)


def _pad_to(x: Tensor, size: int) -> Tensor:
    """Reflection-pad ``(B, C, H, W)`` so both sides are at least ``size`` (replicate when the
    input is too small to reflect)."""
    h, w = x.shape[-2:]
    ph, pw = max(0, size - h), max(0, size - w)
    if ph == 0 and pw == 0:
        return x
    pad = (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2)
    mode = "reflect" if max(pad[:2]) < w and max(pad[2:]) < h else "replicate"
    return F.pad(x, pad, mode=mode)


def flops_per_pixel(kernel_sizes: Sequence[int] = KERNEL_SIZES, channels: int = CHANNELS,
                    max_kernel: int = MAX_KERNEL) -> float:
    """Multiply-adds x 2 per input pixel of one forward pass (convolutions and Grams)."""
    total = 0.0
    for k in kernel_sizes:
        d, taps = pooled_kernel(k, max_kernel)
        total += (2 * 3 * taps * taps * channels + 2 * channels * channels) / (d * d)
    return total


def receptive_fields(kernel_sizes: Sequence[int] = KERNEL_SIZES,
                     max_kernel: int = MAX_KERNEL) -> dict[str, int]:
    """Field of view in input pixels of each layer (``d * k'``), close to the nominal size."""
    return {layer_name(k): math.prod(pooled_kernel(k, max_kernel)) for k in kernel_sizes}
