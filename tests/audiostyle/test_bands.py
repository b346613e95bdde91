"""Signal statistics (audiostyle.bands): band shares, centroid and bandwidth, energy outside a
clip's bands, and what a content lacks of a style."""

from __future__ import annotations

import math

import pytest
import torch

from helpers.audio import clicks, tone

import audiostyle.bands as bands
from audiostyle.api import LEVEL_MODULATION_MAX, NOISE_FLATNESS
from audiostyle.bands import (band_shares, level_modulation, missing_share, noise_flatness,
                              out_of_band_share, peak_share, spectral_stats)
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


def _coloured_noise(slope_db_per_octave: float, seconds: float = 2.0) -> torch.Tensor:
    """Gaussian noise whose power falls ``slope_db_per_octave`` per octave: ``(1, N)``."""
    n = int(seconds * RATE)
    spectrum = torch.fft.rfft(torch.randn(n, generator=torch.Generator().manual_seed(2)))
    hz = torch.fft.rfftfreq(n, 1 / RATE).clamp_min(20.0)
    spectrum = spectrum * (hz / 20.0) ** (-slope_db_per_octave / 20 / math.log10(2))
    wave = torch.fft.irfft(spectrum, n)
    return (0.3 * wave / wave.abs().max())[None].float()


def test_noise_flatness_tells_noise_of_any_colour_from_tones_harmonics_and_clicks() -> None:
    """The measure behind ``fast``'s texture start: white, pink and brown noise alike over
    :data:`NOISE_FLATNESS` (a flatness over the whole spectrum would read brown noise as
    tonal), steady tones and a sawtooth's harmonics under it. It is a spectral measure:
    bursts of white noise are noise, whatever their rhythm."""
    noises = {slope: noise_flatness(_coloured_noise(slope), RATE) for slope in (0, 3, 6)}
    noises["bursts"] = noise_flatness(clicks(2.0, RATE), RATE)
    assert min(noises.values()) > 0.4 > NOISE_FLATNESS, noises
    t = torch.arange(2 * RATE) / RATE
    saw = (0.3 * ((110 * t) % 1.0 - 0.5))[None]
    others = {"sines": _sines(), "chord": tone(2.0, RATE), "saw": saw}
    flat = {k: noise_flatness(v, RATE) for k, v in others.items()}
    assert max(flat.values()) < 0.1 < NOISE_FLATNESS, flat
    assert noise_flatness(torch.zeros(1, RATE), RATE) == 0.0
    assert noise_flatness(_coloured_noise(3)[0], RATE) == pytest.approx(noises[3])  # (N,)


def test_noise_flatness_of_a_long_clip_is_taken_block_by_block(monkeypatch) -> None:
    noise = _coloured_noise(3, seconds=3.0)
    whole = noise_flatness(noise, RATE)
    monkeypatch.setattr(bands, "CHUNK", 16)  # blocks of 16 frames
    assert noise_flatness(noise, RATE) == pytest.approx(whole, rel=1e-9)


def _under(wave: torch.Tensor, hz: float, depth: float) -> torch.Tensor:
    """``wave`` ``(1, N)`` under a tremolo of ``hz`` and ``depth`` (sox's: the level swings
    between 1 - depth and 1)."""
    t = torch.arange(wave.shape[-1]) / RATE
    return wave * (1 - depth / 2 + depth / 2 * torch.sin(2 * math.pi * hz * t))


def test_level_modulation_reads_tremolos_not_steady_noise_nor_slow_swells(monkeypatch) -> None:
    """The measure that keeps a pulsing noise off ``fast``'s shaped start: a 4 Hz tremolo of
    90 % over :data:`LEVEL_MODULATION_MAX`, the same noise steady, under a shallow tremolo or
    a slow swell (0.2 Hz, below the rhythmic rates) well under it."""
    noise = _coloured_noise(3, seconds=4.0)
    steady = level_modulation(noise, RATE)
    deep = level_modulation(_under(noise, 4.0, 0.9), RATE)
    shallow = level_modulation(_under(noise, 4.0, 0.3), RATE)
    swell = level_modulation(_under(noise, 0.2, 0.9), RATE)
    assert steady < 0.15 and swell < 0.2 and shallow < 0.25, (steady, swell, shallow)
    assert deep > LEVEL_MODULATION_MAX > shallow, deep
    assert level_modulation(torch.zeros(1, RATE), RATE) == 0.0
    monkeypatch.setattr(bands, "CHUNK", 16)  # block by block: the same
    assert level_modulation(_under(noise, 4.0, 0.9), RATE) == pytest.approx(deep, rel=1e-9)


def test_flatness_bands_are_half_octaves_of_at_least_min_bins() -> None:
    masks = bands.flatness_bands()
    counts = [int(m.sum()) for m in masks]
    assert min(counts) >= bands.MIN_BINS and len(masks) >= 12
    assert not (torch.stack(masks).sum(0) > 1).any()  # no bin in two bands
