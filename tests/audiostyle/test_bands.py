"""Signal statistics (audiostyle.bands): band shares, centroid and bandwidth, energy outside a
clip's bands, and what a content lacks of a style."""

from __future__ import annotations

import math

import pytest
import torch

from helpers.audio import tone

from audiostyle.bands import (band_shares, missing_share, out_of_band_share, peak_share,
                              spectral_stats)
from audiostyle.quality import measured_wave

RATE = 22050


def _sines(seconds: float = 1.5, rate: int = RATE) -> torch.Tensor:
    t = torch.arange(int(seconds * rate)) / rate
    return (0.3 * torch.sin(2 * math.pi * 1000 * t)
            + 0.3 * torch.sin(2 * math.pi * 2500 * t))[None].float()


def test_signal_statistics_see_a_tone_where_it_is_and_hiss_outside_a_tonal_style() -> None:
    sines = _sines()
    stats = spectral_stats(sines, RATE)
    assert 1600 < stats["centroid_hz"] < 1900 and 600 < stats["bandwidth_hz"] < 900
    shares = band_shares(sines, RATE)
    assert float(shares.sum()) == pytest.approx(1.0) and int((shares > 0.01).sum()) <= 4
    assert out_of_band_share(sines, RATE, [sines], [RATE]) < 0.01
    hiss = sines + 0.1 * torch.randn(sines.shape, generator=torch.Generator().manual_seed(0))
    assert 0.07 < out_of_band_share(hiss, RATE, [sines], [RATE]) < 0.1  # the hiss: 10 % of it
    assert measured_wave(3 * sines, RATE).square().mean().sqrt() == pytest.approx(0.1, rel=1e-4)


def test_missing_share_is_what_a_content_lacks_of_the_style() -> None:
    sines, chord = _sines(), tone(1.5, RATE)  # 1 and 2.5 kHz; 220 and 330 Hz
    assert missing_share(chord, RATE, [sines], [RATE]) > 0.95
    assert missing_share(sines + 0.5 * chord, RATE, [sines], [RATE]) < 0.01
    noise = torch.randn(1, int(1.5 * RATE), generator=torch.Generator().manual_seed(0))
    assert missing_share(noise, RATE, [sines], [RATE]) < 0.01  # broadband holds every band
    assert band_shares(torch.zeros(1, RATE), RATE).sum() == 0  # silence: no shares


def test_statistics_of_a_long_clip_are_taken_block_by_block_and_match_a_short_one() -> None:
    assert band_shares(_sines(60.0), RATE) == pytest.approx(band_shares(_sines(2.0), RATE),
                                                            abs=2e-3)


def test_peak_share_is_near_one_for_steady_tones_and_well_under_for_noise() -> None:
    noise = torch.randn(1, 2 * RATE, generator=torch.Generator().manual_seed(1))
    assert peak_share(band_shares(_sines(), RATE)) > 0.99
    assert peak_share(band_shares(noise, RATE)) < 0.5
    assert peak_share(band_shares(noise, RATE), bands=30) == pytest.approx(1.0)
