"""Held-out judgement of random-multiscale textures on images the network was never tuned on.

The synthesis matches Gram matrices of the 3-55 px random network; it is judged by measures it
never optimised (a random network with other filter sizes and seed, the luminance power
spectrum, the colour distributions), against colour-matched white noise.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from imagestyle.gatys import synthesize_texture, texture_config
from imagestyle.metrics import (
    color_distance,
    copy_score,
    heldout_gram_distance,
    spectrum_distance,
    texture_report,
)

skimage_data = pytest.importorskip("skimage.data")


def _crop(name: str, top: int, left: int, side: int, size: int) -> torch.Tensor:
    arr = getattr(skimage_data, name)()[top : top + side, left : left + side]
    if arr.ndim == 2:
        arr = np.stack([arr] * 3, axis=-1)
    img = torch.from_numpy(np.ascontiguousarray(arr[..., :3]).astype(np.float32) / 255.0)
    img = img.permute(2, 0, 1).unsqueeze(0)  # (1, 3, side, side)
    return torch.nn.functional.interpolate(img, size=(size, size), mode="bilinear",
                                           antialias=True)


def _colour_noise(source: torch.Tensor) -> torch.Tensor:
    flat = source[0].flatten(1).double()  # (3, N)
    chol = torch.linalg.cholesky(torch.cov(flat) + 1e-6 * torch.eye(3, dtype=flat.dtype))
    z = torch.randn(3, flat.shape[1], generator=torch.Generator().manual_seed(0), dtype=flat.dtype)
    return (flat.mean(1, keepdim=True) + chol @ z).reshape(source.shape).float().clamp(0, 1)


def test_metrics_are_zero_on_identity_and_positive_otherwise() -> None:
    img = _crop("coffee", 0, 0, 200, 48)
    assert heldout_gram_distance(img, img) == pytest.approx(0.0, abs=1e-6)
    assert spectrum_distance(img, img) == pytest.approx(0.0, abs=1e-6)
    assert color_distance(img, img) == pytest.approx(0.0, abs=1e-6)
    assert copy_score(img, img) == pytest.approx(1.0)
    assert copy_score(torch.roll(img, (3, 4), (2, 3)), img) > 0.5  # wrapped, 48 px
    report = texture_report(_colour_noise(img), img)
    assert all(v > 0 for v in report.values())


@pytest.mark.slow
@pytest.mark.parametrize("name,box", [("gravel", (0, 0, 256)), ("chelsea", (80, 0, 150))])
def test_random_multiscale_textures_beat_colour_noise_on_heldout_measures(
    name: str, box: tuple[int, int, int]
) -> None:
    source = _crop(name, *box, size=64)
    result = synthesize_texture([source], texture_config(model="random-multiscale", size=64,
                                                         iterations=60, quiet=True))
    ours = texture_report(result.image, source)
    noise = texture_report(_colour_noise(source), source)
    assert ours["heldout_gram"] < 0.6 * noise["heldout_gram"], (ours, noise)
    assert ours["spectrum"] < 0.5 * noise["spectrum"], (ours, noise)
    assert ours["color"] < 0.06, ours
    assert ours["copy"] < 0.5, ours  # a new sample, not a shifted copy of the source
