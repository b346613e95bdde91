"""Colour preservation (Gatys et al. 2016): luminance-only transfer and histogram matching."""

from __future__ import annotations

import numpy as np
import torch
from helpers.images import smooth_image, texture_image

from imagestyle.color import match_color_histogram
from imagestyle.gatys import GatysConfig, stylize, synthesize_texture, texture_config
from imagestyle.imageio import to_pil

FAST = dict(model="random-multiscale", iterations=6, quiet=True, check_memory=False)


def ycbcr(image: torch.Tensor) -> np.ndarray:
    return np.asarray(to_pil(image).convert("YCbCr"), dtype=np.float64)  # (H, W, 3)


def test_histogram_matching_gives_content_mean_and_covariance() -> None:
    style = texture_image(40, 30, seed=1)
    content = smooth_image(20, 36, seed=2)
    out = match_color_histogram(style, content)
    assert out.shape == style.shape

    def stats(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        flat = x[0].flatten(1).double()  # (3, N)
        return flat.mean(1), torch.cov(flat, correction=0)

    (mo, co), (mc, cc) = stats(out), stats(content)
    torch.testing.assert_close(mo, mc, atol=1e-5, rtol=0)
    torch.testing.assert_close(co, cc, atol=1e-4, rtol=1e-3)


def test_luminance_only_transfer_keeps_content_chrominance() -> None:
    content = smooth_image(32, 32, seed=4)
    style = texture_image(32, 32, seed=5)
    result = stylize(content, [style], GatysConfig(size=32, preserve_color="luminance", **FAST))
    got, want = ycbcr(result.image), ycbcr(content)
    # Cb/Cr equal up to 8-bit rounding (and the rare clipped pixel); Y is the stylised one.
    assert np.median(np.abs(got[..., 1:] - want[..., 1:])) <= 1.0
    assert np.mean(np.abs(got[..., 1:] - want[..., 1:])) < 2.0
    assert np.abs(got[..., 0] - want[..., 0]).mean() > 1.0


def test_histogram_transfer_pulls_result_colours_to_content() -> None:
    content = smooth_image(32, 32, seed=6) * torch.tensor([0.3, 0.6, 1.0]).view(1, 3, 1, 1)
    style = texture_image(32, 32, seed=7)  # orange
    cfg = dict(size=32, init="noise", **FAST)
    plain = stylize(content, [style], GatysConfig(**cfg)).image
    kept = stylize(content, [style], GatysConfig(preserve_color="histogram", **cfg)).image
    mean_c = content.mean((2, 3))
    assert (kept.mean((2, 3)) - mean_c).abs().sum() < (plain.mean((2, 3)) - mean_c).abs().sum()


def test_texture_luminance_takes_init_colours() -> None:
    style = texture_image(32, 32, seed=8)
    init = smooth_image(24, 24, seed=9)
    out = synthesize_texture([style], texture_config(size=24, init=init,
                                                     preserve_color="luminance", **FAST))
    got, want = ycbcr(out.image), ycbcr(init)
    assert np.median(np.abs(got[..., 1:] - want[..., 1:])) <= 1.0
