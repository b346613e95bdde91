"""Held-out measures of texture similarity: statistics that synthesis does NOT optimise.

A texture synthesised by matching Gram matrices of one network will trivially match those
Grams; to judge it, compare it with its source through measures the optimisation never saw:

* :func:`heldout_gram_distance`: Gram distance under a *different* random multi-scale network
  (another seed and other filter sizes), relative to the source's own Gram norm.
* :func:`spectrum_distance`: distance between the log radially averaged power spectra of the
  luminance (second-order spatial structure at every scale).
* :func:`color_distance`: mean over RGB channels of the 1-D Wasserstein-1 distance between
  pixel-value distributions (palette and contrast).
* :func:`copy_score`: the peak normalised cross-correlation of the luminances over all shifts:
  near 1 when the "texture" is a shifted copy of its source, which Gram matching of a network
  with many large filters on a small source can produce (Ustyuzhaninov et al. 2017 discuss
  this trade-off between quality and variability). The other measures reward copies, so a
  texture must score well on them *and* low here.

All take RGB images ``(1, 3, H, W)`` in [0, 1]; sizes may differ. Lower is more similar.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from shared import gram_matrix

from .color import luminance

HELDOUT_KERNELS = (4, 9, 19, 31)  # filter sizes unlike the synthesis network's
HELDOUT_SEED = 12345


def heldout_gram_distance(a: Tensor, b: Tensor, seed: int = HELDOUT_SEED) -> float:
    """Relative Gram distance ``sum_l ||G_l(a) - G_l(b)||_F / ||G_l(b)||_F / L`` under a random
    multi-scale network with other filter sizes and seed than the synthesis network's."""
    from .random_multiscale import RandomMultiscaleFeatures

    net = RandomMultiscaleFeatures(kernel_sizes=HELDOUT_KERNELS, channels=64, seed=seed)
    net = net.to(a.device)
    with torch.no_grad():
        fa, fb = net(a), net(b)
        total = 0.0
        for name in net.layers:
            ga = gram_matrix(fa[name], "positions")  # (1, C, C)
            gb = gram_matrix(fb[name], "positions")
            total += float((ga - gb).norm() / gb.norm().clamp_min(1e-12))
    return total / len(net.layers)


def radial_spectrum(image: Tensor, bins: int = 24) -> Tensor:
    """Log of the radially averaged power spectrum of the luminance, ``(bins,)``, with the mean
    removed and the image resized to a common 128 x 128 so sizes may differ."""
    y = luminance(image)[:, :, :, :]  # (1, 1, H, W)
    y = F.interpolate(y, size=(128, 128), mode="bilinear", align_corners=False, antialias=True)
    y = y - y.mean()
    window = torch.hann_window(128, dtype=y.dtype, device=y.device)
    power = torch.fft.fftshift(torch.fft.fft2(y[0, 0] * window[:, None] * window[None, :])).abs() ** 2
    coords = torch.arange(128, dtype=y.dtype, device=y.device) - 64
    radius = torch.sqrt(coords[:, None] ** 2 + coords[None, :] ** 2)  # (128, 128)
    edges = torch.linspace(1.0, 64.0, bins + 1, dtype=y.dtype, device=y.device)
    out = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        mask = (radius >= lo) & (radius < hi)
        out.append(power[mask].mean())
    return torch.log(torch.stack(out) + 1e-12)  # (bins,)


def spectrum_distance(a: Tensor, b: Tensor) -> float:
    """Root-mean-square difference of the log radial power spectra (natural-log units)."""
    sa, sb = radial_spectrum(a), radial_spectrum(b)
    return float(torch.sqrt(((sa - sb) ** 2).mean()))


def color_distance(a: Tensor, b: Tensor, quantiles: int = 256) -> float:
    """Mean over RGB channels of the Wasserstein-1 distance between pixel-value distributions
    (in [0, 1] units), from matched quantiles."""
    q = torch.linspace(0, 1, quantiles, dtype=a.dtype, device=a.device)
    total = 0.0
    for c in range(3):
        qa = torch.quantile(a[0, c].flatten(), q)
        qb = torch.quantile(b[0, c].flatten().to(a.dtype), q)
        total += float((qa - qb).abs().mean())
    return total / 3


def copy_score(a: Tensor, b: Tensor) -> float:
    """Peak over all 2-D shifts of the normalised cross-correlation of the centred luminances
    (zero-padded, so only real overlaps count); both images are brought to ``b``'s size.

    1.0 for an exact copy, about ``(1 - s/N)^2`` for a copy shifted by ``s`` of ``N`` px, and
    low (typically < 0.3) for a new sample of a texture."""
    ya = luminance(a)
    yb = luminance(b)
    if ya.shape[-2:] != yb.shape[-2:]:
        ya = F.interpolate(ya, size=yb.shape[-2:], mode="bilinear", align_corners=False,
                           antialias=True)
    ya = (ya - ya.mean())[0, 0].double()  # (H, W)
    yb = (yb - yb.mean())[0, 0].double()
    h, w = ya.shape
    shape = (2 * h, 2 * w)
    corr = torch.fft.irfft2(torch.fft.rfft2(ya, s=shape) * torch.fft.rfft2(yb, s=shape).conj(),
                            s=shape)  # (2H, 2W): every relative shift
    denom = (ya.norm() * yb.norm()).clamp_min(1e-12)
    return float(corr.max() / denom)


def texture_report(result: Tensor, source: Tensor) -> dict[str, float]:
    """All held-out measures of ``result`` against ``source`` (lower is better for each)."""
    return {
        "heldout_gram": heldout_gram_distance(result, source),
        "spectrum": spectrum_distance(result, source),
        "color": color_distance(result, source),
        "copy": copy_score(result, source),
    }
