"""Colour spaces and colour preservation (Gatys, Bethge, Hertzmann & Shechtman 2016,
"Preserving colour in neural artistic style transfer").

* Luminance-only transfer: stylise the luminance, then take the chrominance from the content
  (:func:`restore_chrominance`), as jcjohnson/neural-style's ``-original_colors 1`` does (YUV).
* Colour histogram matching: give the style image the content's colour mean and covariance
  before transfer (:func:`match_color_histogram`, the Cholesky variant of the paper).

All functions take ``(B, 3, H, W)`` RGB tensors in [0, 1] and are pure.
"""

from __future__ import annotations

import torch
from torch import Tensor

# BT.601 YUV (the matrix jcjohnson/neural-style's original_colors uses via image.rgb2yuv).
_RGB2YUV = ((0.299, 0.587, 0.114), (-0.14713, -0.28886, 0.436), (0.615, -0.51499, -0.10001))


def _matrix(x: Tensor) -> Tensor:
    return torch.tensor(_RGB2YUV, device=x.device, dtype=x.dtype)


def rgb_to_yuv(rgb: Tensor) -> Tensor:
    """``(B, 3, H, W)`` RGB -> ``(B, 3, H, W)`` YUV (BT.601)."""
    return torch.einsum("ij,bjhw->bihw", _matrix(rgb), rgb)


def yuv_to_rgb(yuv: Tensor) -> Tensor:
    """``(B, 3, H, W)`` YUV -> ``(B, 3, H, W)`` RGB (inverse of :func:`rgb_to_yuv`)."""
    inv = torch.linalg.inv(_matrix(yuv).double()).to(yuv.dtype)
    return torch.einsum("ij,bjhw->bihw", inv, yuv)


def luminance(rgb: Tensor) -> Tensor:
    """``(B, 3, H, W)`` RGB -> ``(B, 1, H, W)`` luma Y."""
    return rgb_to_yuv(rgb)[:, :1]


def gray_to_rgb(y: Tensor) -> Tensor:
    """``(B, 1, H, W)`` luma -> ``(B, 3, H, W)`` grey RGB image."""
    return y.expand(-1, 3, -1, -1)


def restore_chrominance(stylised: Tensor, content: Tensor) -> Tensor:
    """Luminance of ``stylised`` with the chrominance (U, V) of ``content``, clamped to [0, 1].

    Args:
        stylised: ``(B, 3, H, W)`` RGB.
        content: ``(B, 3, H, W)`` RGB of the same size (resized by the caller if needed).

    Returns:
        ``(B, 3, H, W)`` RGB.
    """
    if stylised.shape[-2:] != content.shape[-2:]:
        content = torch.nn.functional.interpolate(
            content, size=stylised.shape[-2:], mode="bilinear", align_corners=False, antialias=True
        )
    y = rgb_to_yuv(stylised)[:, :1]
    uv = rgb_to_yuv(content)[:, 1:]
    return yuv_to_rgb(torch.cat([y, uv], dim=1)).clamp(0, 1)


def match_luminance_stats(source: Tensor, target: Tensor) -> Tensor:
    """Shift and scale ``source``'s luma ``(B, 1, H, W)`` to the mean/std of ``target``'s.

    The paper does this to the style's luminance before luminance-only transfer, so that the
    style's overall brightness does not override the content's.
    """
    mu_s, sd_s = source.mean(dim=(1, 2, 3), keepdim=True), source.std(dim=(1, 2, 3), keepdim=True)
    mu_t, sd_t = target.mean(dim=(1, 2, 3), keepdim=True), target.std(dim=(1, 2, 3), keepdim=True)
    return (source - mu_s) * (sd_t / sd_s.clamp_min(1e-6)) + mu_t


def _mean_cov(x: Tensor) -> tuple[Tensor, Tensor]:
    flat = x.flatten(2).double()  # (B, 3, N)
    mu = flat.mean(-1, keepdim=True)  # (B, 3, 1)
    centred = flat - mu
    cov = centred @ centred.transpose(1, 2) / flat.shape[-1]  # (B, 3, 3)
    return mu, cov


def match_color_histogram(style: Tensor, content: Tensor, eps: float = 1e-5) -> Tensor:
    """Linearly map ``style``'s colours to have ``content``'s colour mean and covariance.

    ``x' = A (x - mu_s) + mu_c`` with ``A = L_c L_s^-1`` (Cholesky factors of the colour
    covariances), Gatys et al. (2016) section 2. ``eps`` is a jitter relative to the mean
    colour variance, keeping flat or greyscale images invertible.

    Args:
        style: ``(1, 3, Hs, Ws)`` RGB image whose colours are changed.
        content: ``(1, 3, Hc, Wc)`` RGB image whose colour statistics are matched.

    Returns:
        ``(1, 3, Hs, Ws)`` RGB (not clamped, so the statistics match exactly; clamp to save).
    """
    mu_s, cov_s = _mean_cov(style)
    mu_c, cov_c = _mean_cov(content)
    eye = torch.eye(3, dtype=cov_s.dtype, device=cov_s.device)

    def jitter(cov: Tensor) -> Tensor:  # relative to the covariance's scale, so that colourful
        # images match almost exactly and flat (e.g. greyscale) ones stay invertible
        scale = cov.diagonal(dim1=-2, dim2=-1).mean(-1).view(-1, 1, 1)  # (B, 1, 1)
        return cov + (eps * scale + 1e-12) * eye

    l_s = torch.linalg.cholesky(jitter(cov_s))
    l_c = torch.linalg.cholesky(jitter(cov_c))
    a = l_c @ torch.linalg.inv(l_s)  # (B, 3, 3)
    flat = style.flatten(2).double()  # (B, 3, N)
    out = a @ (flat - mu_s) + mu_c
    return out.reshape(style.shape).to(style.dtype)
