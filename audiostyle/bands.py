"""Where a clip's energy lies: third-octave band shares, spectral centroid and bandwidth.

Simple signal statistics, at one analysis front end (mono, 22050 Hz, STFT 2048/512, whatever
the clip's own rate and level): the held-out measures use them beside the random networks
(:mod:`audiostyle.quality`), and the pipeline uses them to choose where a waveform stage starts
(:func:`missing_share`: a content that lacks the style's bands is a poor start) and which route
a preset takes on a narrow-band tonal style (:func:`peak_share`) or a noise-like one
(:func:`noise_flatness`).
"""

from __future__ import annotations

from typing import Iterator, Optional, Sequence

import torch
from torch import Tensor

from shared import normalize_blend_weights

from .dsp import downmix, resample
from .spectral import Spectral

ANALYSIS_RATE = 22050  # the analysis front end: the reference's
ANALYSIS = Spectral(2048, 512)
OUT_OF_BAND = 0.01  # a band where a clip has under this share of its energy is not its own
CHUNK = 4096  # frames per block of the power spectrum
MIN_BINS = 4  # bins a band of noise_flatness holds at least (2-bin bands read tones as noise)
MODULATION_HZ = (1.0, 20.0)  # the level swings level_modulation reads: tremolos, pulses, beats


def band_edges() -> list[float]:
    """Edges in Hz of the third-octave bands centred 25 Hz .. 10 kHz (the last band open to
    the analysis Nyquist frequency)."""
    centres = [1000.0 * 2.0 ** (k / 3) for k in range(-16, 11)]
    return [centres[0] * 2 ** (-1 / 6)] + [c * 2 ** (1 / 6) for c in centres[:-1]] \
        + [ANALYSIS_RATE / 2]


def analysis_wave(wave: Tensor, sample_rate: int) -> Tensor:
    """``(C, N)`` or ``(N,)`` samples at ``sample_rate`` as the analysis front end reads them:
    on the CPU, downmixed, at :data:`ANALYSIS_RATE`: ``(1, N')``."""
    wave = wave.detach().to("cpu", torch.float32)
    return resample(downmix(wave[None] if wave.dim() == 1 else wave), sample_rate,
                    ANALYSIS_RATE)


def power_blocks(wave: Tensor, sample_rate: int) -> Iterator[Tensor]:
    """The power of ``(C, N)`` or ``(N,)`` samples, downmixed, at the analysis front end, in
    blocks of at most :data:`CHUNK` frames: ``(1025, n)`` float64 each, in time order."""
    wave = analysis_wave(wave, sample_rate)  # (1, N')
    frames = ANALYSIS.frames(wave.shape[-1])
    for a in range(0, frames, CHUNK):
        yield ANALYSIS.frames_of(wave, a, min(frames, a + CHUNK)).abs()[0].double().square()


def power_spectrum(wave: Tensor, sample_rate: int) -> Tensor:
    """Mean power per STFT bin over time of ``(C, N)`` or ``(N,)`` samples, downmixed, at the
    analysis front end: ``(1025,)`` float64 (computed block by block: any length)."""
    total = torch.zeros(ANALYSIS.bins, dtype=torch.float64)
    frames = 0
    for power in power_blocks(wave, sample_rate):  # (F, n)
        total += power.sum(-1)
        frames += power.shape[-1]
    return total / frames  # (F,)


def half_octave_edges() -> list[float]:
    """Edges in Hz of half-octave bands from 20 Hz to the analysis Nyquist frequency."""
    edges = [20.0 * 2.0 ** (k / 2) for k in range(19)]  # 20 Hz .. 10.2 kHz
    return edges + [ANALYSIS_RATE / 2]


def flatness_bands() -> list[Tensor]:
    """The bands of :func:`noise_flatness`: masks over the analysis bins ``(F,)`` of the
    half-octave bands (:func:`half_octave_edges`), the lowest merged until each holds
    :data:`MIN_BINS`."""
    hz = torch.linspace(0, ANALYSIS_RATE / 2, ANALYSIS.bins, dtype=torch.float64)
    edges = half_octave_edges()
    bands, lo = [], edges[0]
    for hi in edges[1:]:
        band = (hz >= lo) & (hz < hi)
        if int(band.sum()) >= MIN_BINS:
            bands.append(band)
            lo = hi
    return bands


def noise_flatness(wave: Tensor, sample_rate: int) -> float:
    """How noise-like a clip is, whatever its colour: the spectral flatness (geometric over
    arithmetic mean of the power) of every STFT frame within every band of
    :func:`flatness_bands`, averaged with each band-frame's energy as its weight. ``(C, N)`` or
    ``(N,)`` samples, downmixed, at the analysis front end (block by block: any length).

    Noise of any colour measured 0.44-0.71 (a band is narrow enough that the slope inside it
    barely counts): pink, brown, rain, wind, applause, band-passed noise. Tones, harmonic music,
    speech and drums, whose energy sits in a few bins of each band or frame, measured at most
    0.24 (a polyphonic mix); silence measures 0.
    """
    bands = flatness_bands()
    weighted, total = 0.0, 0.0
    for power in power_blocks(wave, sample_rate):  # (F, n)
        for band in bands:
            p = power[band]  # (b, n)
            energy = p.sum(0)  # (n,)
            flat = p.clamp_min(1e-30).log().mean(0).exp() / p.mean(0).clamp_min(1e-30)
            weighted += float((flat * energy).sum())
            total += float(energy.sum())
    return weighted / total if total > 0 else 0.0


def level_modulation(wave: Tensor, sample_rate: int, low_hz: float = MODULATION_HZ[0],
                     high_hz: float = MODULATION_HZ[1]) -> float:
    """How much a clip's level swings at rhythmic rates: the standard deviation of its frame
    envelope (the root of each analysis frame's energy), band-passed to ``low_hz``-``high_hz``
    (a tremolo, pulses, a beat; not slow swells nor the frames' own jitter), over the
    envelope's mean. ``(C, N)`` or ``(N,)`` samples, downmixed, at the analysis front end.

    Steady noise measured 0.06-0.17 (pink, brown, band-passed noise, rain; brown noise's
    envelope wanders at random), wind 0.21, applause 0.29, pink noise under a 4 Hz tremolo of
    90 % 0.53; silence 0.
    """
    envelope = torch.cat([p.sum(0) for p in power_blocks(wave, sample_rate)]).sqrt()  # (n,)
    frames = envelope.shape[0]
    mean = float(envelope.mean())
    if mean <= 0 or frames < 2:
        return 0.0
    hz = torch.fft.rfftfreq(frames, ANALYSIS.hop / ANALYSIS_RATE, dtype=torch.float64)
    swing = torch.fft.rfft(envelope - mean) * ((hz >= low_hz) & (hz <= high_hz))
    return float(torch.fft.irfft(swing, n=frames).std()) / mean


def band_shares(wave: Tensor, sample_rate: int) -> Tensor:
    """Share of the clip's energy in each third-octave band (:func:`band_edges`): ``(B,)``,
    summing to 1 (all 0 for silence)."""
    power = power_spectrum(wave, sample_rate)  # (F,)
    hz = torch.linspace(0, ANALYSIS_RATE / 2, power.shape[0], dtype=torch.float64)
    edges = band_edges()
    bands = torch.stack([power[(hz >= lo) & (hz < hi)].sum()
                         for lo, hi in zip(edges[:-1], edges[1:])])  # (B,)
    return bands / bands.sum().clamp_min(1e-300)


def blended_shares(waves: Sequence[Tensor], rates: Sequence[int],
                   weights: Optional[Sequence[float]] = None) -> Tensor:
    """:func:`band_shares` of several clips blended with ``weights`` (normalised), ``(B,)``."""
    w = normalize_blend_weights(len(waves), weights)
    return sum(wt * band_shares(x, r) for x, r, wt in zip(waves, rates, w))  # type: ignore[return-value]


def peak_share(shares: Tensor, bands: int = 3) -> float:
    """Share of the energy in the ``bands`` strongest bands of :func:`band_shares` ``(B,)``:
    near 1 for a few steady tones (two sines, a phone ring, a whistle), well under for music,
    speech or noise."""
    return float(shares.sort(descending=True).values[:bands].sum())


def out_of_band_share(wave: Tensor, sample_rate: int, others: Sequence[Tensor],
                      other_rates: Sequence[int],
                      weights: Optional[Sequence[float]] = None) -> float:
    """Share of ``wave``'s energy in the bands where the (blended) ``others`` have under
    :data:`OUT_OF_BAND` of theirs: energy they do not have."""
    own = blended_shares(others, other_rates, weights)
    return float(band_shares(wave, sample_rate)[own < OUT_OF_BAND].sum())


def missing_share(content: Tensor, content_rate: int, styles: Sequence[Tensor],
                  style_rates: Sequence[int],
                  weights: Optional[Sequence[float]] = None) -> float:
    """Share of the (blended) styles' energy in the bands where the content has under
    :data:`OUT_OF_BAND` of its own: what a transfer started from the content's samples would
    have to make from nothing."""
    own = band_shares(content, content_rate)
    return float(blended_shares(styles, style_rates, weights)[own < OUT_OF_BAND].sum())


def spectral_stats(wave: Tensor, sample_rate: int) -> dict[str, float]:
    """The clip's spectral centroid and bandwidth in Hz (the mean power spectrum's mean
    frequency and its standard deviation)."""
    power = power_spectrum(wave, sample_rate)  # (F,)
    hz = torch.linspace(0, ANALYSIS_RATE / 2, power.shape[0], dtype=torch.float64)
    p = power / power.sum().clamp_min(1e-300)
    centroid = float((p * hz).sum())
    return {"centroid_hz": centroid,
            "bandwidth_hz": float((p * (hz - centroid).square()).sum().sqrt())}


__all__ = ["ANALYSIS_RATE", "MIN_BINS", "OUT_OF_BAND", "analysis_wave", "band_edges",
           "band_shares", "blended_shares", "flatness_bands", "half_octave_edges",
           "level_modulation", "missing_share", "noise_flatness", "out_of_band_share",
           "peak_share", "power_blocks", "power_spectrum", "spectral_stats"]
