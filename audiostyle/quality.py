"""Held-out quality measures of a result: how close its texture is to the styles', and how much
of the content's structure it keeps, under a random network the optimisation never saw.

The optimised loss says how well a result fits the network it was optimised on, which it can
over-fit (and a spectrogram's loss says nothing of what Griffin-Lim loses on the way to the
written samples). These measures take the *samples* and a different random network: another
seed (1234) and other widths (5 and 25 frames, 512 filters) than any setting of the tool, at
the reference's fixed front end (mono, 22050 Hz, STFT 2048/512), so runs with different
settings compare on one scale:

* :func:`heldout_style_distance`: ``mean_l ||G_l(result) - G_l(style)||_F / ||G_l(style)||_F``,
  the relative Gram distance per held-out layer (styles blended like the tool blends them);
  0 is the style's own texture.
* :func:`content_distance`: ``mean_l ||F_l(result) - F_l(content)||_F / ||F_l(content)||_F``,
  the relative feature distance (time-aligned); 0 is the content itself.

A transfer's progress is the share of the content-to-style gap it closes,
``1 - d(result) / d(content)`` with ``d`` the held-out style distance.

Every clip is measured at one loudness: scaled to :data:`MEASURE_RMS` first. ``log1p|STFT|``
is not scale-invariant, so a measure of the files at the levels they were written would reward
the output level as well as the texture (Vinay & Lerch 2022 on texture measures; the project's
reference notes). Beside the random networks, measures the tool never optimises: the spectral
centroid and bandwidth and the share of the result's energy in the third-octave bands where
the style has under 1 % of its own (:mod:`audiostyle.bands`).
"""

from __future__ import annotations

from typing import Optional, Sequence

import torch
from torch import Tensor

from shared import blend_grams, normalize_blend_weights

from .bands import OUT_OF_BAND, band_shares, out_of_band_share, spectral_stats
from .dsp import downmix, resample, rms
from .network import RandomConvBank
from .spectral import log_spectrogram
from .targets import chunked_grams

HELDOUT_RATE = 22050  # the measures' fixed front end: the reference's
HELDOUT_N_FFT = 2048
HELDOUT_HOP = 512
HELDOUT_SEED = 1234  # a seed, widths and filter count that no tool setting uses
HELDOUT_WIDTHS = (5, 25)
HELDOUT_FILTERS = 512
HELDOUT_MIN_SECONDS = (max(HELDOUT_WIDTHS) - 1) * HELDOUT_HOP / HELDOUT_RATE  # 0.557 s: the
# shortest clip the held-out network reads (its widest kernel)

MEASURE_RMS = 0.1  # every clip is scaled to this RMS (-20 dBFS) before it is measured

_NETS: dict[str, RandomConvBank] = {}


def heldout_network(device: torch.device | str = "cpu") -> RandomConvBank:
    """The held-out random network (seed 1234, widths 5 and 25, 512 filters, 1025 bins)."""
    key = str(device)
    if key not in _NETS:
        _NETS[key] = RandomConvBank(HELDOUT_N_FFT // 2 + 1, HELDOUT_FILTERS, HELDOUT_WIDTHS,
                                    seed=HELDOUT_SEED).to(device)
    return _NETS[key]


def measured_wave(wave: Tensor, sample_rate: int) -> Tensor:
    """``(C, N)`` or ``(N,)`` samples as every measure reads them: downmixed, at the measures'
    rate and at :data:`MEASURE_RMS` (silence stays silence): ``(1, N')``."""
    wave = wave.detach().to("cpu", torch.float32)
    if wave.dim() == 1:
        wave = wave[None]  # (1, N)
    wave = resample(downmix(wave), sample_rate, HELDOUT_RATE)  # (1, N')
    level = float(rms(wave)[0])
    return wave * (MEASURE_RMS / level) if level > 0 else wave


def _spec(wave: Tensor, sample_rate: int, device: torch.device | str) -> Tensor:
    """Mono log spectrogram ``(1, 1025, T)`` at the measures' front end (:func:`measured_wave`)
    of ``(C, N)`` or ``(N,)`` samples at ``sample_rate``."""
    wave = measured_wave(wave, sample_rate)  # (1, N')
    if wave.shape[-1] < (max(HELDOUT_WIDTHS) - 1) * HELDOUT_HOP:
        raise ValueError(f"wave must last at least {(max(HELDOUT_WIDTHS) - 1) * HELDOUT_HOP} "
                         f"samples at {HELDOUT_RATE} Hz for the held-out measures, got "
                         f"{wave.shape[-1]}")
    return log_spectrogram(wave.to(device), HELDOUT_N_FFT, HELDOUT_HOP)  # (1, F, T)



def heldout_grams(wave: Tensor, sample_rate: int,
                  device: torch.device | str = "cpu") -> dict[str, Tensor]:
    """Held-out Grams ``{"conv5": (1, 512, 512), "conv25": ...}`` of ``wave`` ``(C, N)`` or
    ``(N,)`` at ``sample_rate`` (downmixed, any length: accumulated in chunks)."""
    return chunked_grams(heldout_network(device), _spec(wave, sample_rate, device))


def heldout_style_distance(wave: Tensor, styles: Sequence[Tensor], sample_rate: int,
                           style_rates: Optional[Sequence[int]] = None,
                           style_weights: Optional[Sequence[float]] = None,
                           device: torch.device | str = "cpu") -> float:
    """Relative Gram distance of ``wave`` to the blended styles under the held-out network.

    Args:
        wave: The result, ``(C, N)`` or ``(N,)`` at ``sample_rate`` (downmixed).
        styles: Style recordings, each ``(C_i, N_i)`` or ``(N_i,)``, at ``style_rates``
            (default: all at ``sample_rate``).
        style_weights: Blend weights, normalised to sum 1 (default equal), as the tool's.

    Returns:
        ``mean_l ||G_l(wave) - G_l(styles)||_F / ||G_l(styles)||_F`` over the held-out layers.
    """
    if not styles:
        raise ValueError("styles must hold at least one recording")
    rates = list(style_rates) if style_rates is not None else [sample_rate] * len(styles)
    if len(rates) != len(styles):
        raise ValueError(f"style_rates gives {len(rates)} rates for {len(styles)} styles")
    weights = normalize_blend_weights(len(styles), style_weights)
    per_style = [heldout_grams(s, r, device) for s, r in zip(styles, rates)]
    got = heldout_grams(wave, sample_rate, device)
    total = 0.0
    for name in got:
        target = blend_grams([g[name] for g in per_style], weights)  # (1, C, C)
        total += float((got[name] - target).norm() / target.norm().clamp_min(1e-30))
    return total / len(got)


def content_distance(wave: Tensor, content: Tensor, sample_rate: int,
                     content_rate: Optional[int] = None, device: torch.device | str = "cpu",
                     chunk_frames: int = 4096) -> float:
    """Relative feature distance of ``wave`` to ``content`` under the held-out network.

    Args:
        wave: The result, ``(C, N)`` or ``(N,)`` at ``sample_rate`` (downmixed).
        content: The content, ``(C, M)`` or ``(M,)`` at ``content_rate`` (default
            ``sample_rate``); the two are compared frame by frame over the shorter's frames.

    Returns:
        ``mean_l ||F_l(wave) - F_l(content)||_F / ||F_l(content)||_F`` over the held-out
        layers, accumulated over chunks of ``chunk_frames`` positions.
    """
    a = _spec(wave, sample_rate, device)  # (1, F, T)
    b = _spec(content, content_rate or sample_rate, device)  # (1, F, T')
    frames = min(a.shape[-1], b.shape[-1])
    net = heldout_network(device)
    widest = net.receptive_frames
    diff: dict[str, float] = {}
    norm: dict[str, float] = {}
    with torch.no_grad():
        for start in range(0, frames - widest + 1, chunk_frames):
            last = start + chunk_frames > frames - widest
            stop = frames if last else start + chunk_frames + widest - 1
            fa, fb = net(a[..., start:stop]), net(b[..., start:stop])
            for name in fa:
                n = fa[name].shape[-1] if last else chunk_frames  # own positions
                da = fa[name][..., :n] - fb[name][..., :n]  # (1, C, n)
                diff[name] = diff.get(name, 0.0) + float(da.square().sum())
                norm[name] = norm.get(name, 0.0) + float(fb[name][..., :n].square().sum())
    return sum((diff[k] / max(norm[k], 1e-30)) ** 0.5 for k in diff) / len(diff)


QUALITY_KEYS = ("heldout_style_distance", "content_heldout_style_distance", "gap_closed",
                "content_distance", "out_of_band_share", "centroid_hz", "style_centroid_hz",
                "bandwidth_hz", "style_bandwidth_hz")


def _measures(w: Tensor, rate: int, styles: Sequence[Tensor], style_rates: Sequence[int],
              style_weights: Optional[Sequence[float]], content: Optional[Tensor],
              content_rate: int, device: torch.device | str) -> dict[str, object]:
    """:data:`QUALITY_KEYS` of one channel (or downmix) ``w`` against ``styles`` and, for a
    transfer, ``content``."""
    out: dict[str, object] = dict.fromkeys(QUALITY_KEYS)
    held = heldout_style_distance(w, styles, rate, style_rates, style_weights, device)
    out["heldout_style_distance"] = held
    out["out_of_band_share"] = out_of_band_share(w, rate, styles, style_rates, style_weights)
    weights = normalize_blend_weights(len(styles), style_weights)
    style_stats = [spectral_stats(x, r) for x, r in zip(styles, style_rates)]
    for name, value in spectral_stats(w, rate).items():
        out[name] = value
        out[f"style_{name}"] = sum(wt * st[name] for wt, st in zip(weights, style_stats))
    if content is not None:
        gap = heldout_style_distance(content, styles, content_rate, style_rates, style_weights,
                                     device)
        out.update(content_heldout_style_distance=gap, gap_closed=gap_closed(held, gap),
                   content_distance=content_distance(w, content, rate, content_rate, device))
    return out


def quality_measures(wave: Tensor, sample_rate: int, styles: Sequence[Tensor],
                     style_rates: Sequence[int], style_weights: Optional[Sequence[float]] = None,
                     content: Optional[Tensor] = None, content_rate: Optional[int] = None,
                     device: torch.device | str = "cpu") -> dict[str, object]:
    """The held-out measures of a result, as the CLI's metrics file reports them.

    Args:
        wave: The result ``(C, N)`` at ``sample_rate``.
        styles: Style recordings ``(C_i, N_i)`` at ``style_rates``, blended with
            ``style_weights``.
        content: A transfer's content ``(C_c, M)`` at ``content_rate``; None for a texture.

    Returns:
        ``heldout_style_distance``, ``out_of_band_share``, the result's and the styles'
        ``centroid_hz`` and ``bandwidth_hz`` (:func:`spectral_stats`; the styles' blended with
        their weights), and for a transfer ``content_heldout_style_distance`` (the
        content's own: the gap), ``gap_closed`` and ``content_distance``; all None when a clip
        is shorter than the held-out network's field (:data:`HELDOUT_MIN_SECONDS`). A result
        of several channels (a stereo run) is measured as it was made: channel ``c`` against
        channel ``c`` of the content and of each style that has it (a style's downmix
        otherwise), each measure the mean over channels, each channel's in ``per_channel``
        and the downmixes' in ``downmix``. The downmix alone would mislead: two channels that
        each match the style can sum to something that does not (a delayed, detuned right
        channel, as a chorus makes, does; ``bench_audio_quality.py``'s stereo case).
    """
    keys = QUALITY_KEYS
    clips = [(wave, sample_rate)] + list(zip(styles, style_rates))
    if content is not None:
        clips.append((content, content_rate or sample_rate))
    if any(w.shape[-1] < HELDOUT_MIN_SECONDS * r for w, r in clips):
        return dict.fromkeys(keys)  # too short for the held-out network: no measure

    def measure(w: Tensor, ss: Sequence[Tensor], c: Optional[Tensor]) -> dict[str, object]:
        return _measures(w, sample_rate, ss, style_rates, style_weights, c,
                         content_rate or sample_rate, device)

    if wave.dim() == 1 or wave.shape[0] == 1:
        return measure(wave, styles, content)
    per_channel = [measure(wave[k:k + 1],
                           [s[k:k + 1] if s.dim() > 1 and s.shape[0] > k else downmix(s)
                            for s in styles],
                           None if content is None else content[k:k + 1])
                   for k in range(wave.shape[0])]
    mean: dict[str, object] = {
        k: None if per_channel[0][k] is None
        else sum(float(ch[k]) for ch in per_channel) / len(per_channel)  # type: ignore[arg-type]
        for k in keys}
    mean["per_channel"] = per_channel
    mean["downmix"] = measure(downmix(wave), styles, content)
    return mean


ONSET_HOP = 128  # the onset envelope's hop at 22050 Hz: 5.8 ms a lag (see onset_period)
ONSET_PEAK_SHARE = 0.95  # the period is the first autocorrelation peak this close to the highest


def onset_period(wave: Tensor, sample_rate: int, min_seconds: float = 0.2,
                 max_seconds: float = 2.0) -> float:
    """The rhythm's period: the lag, in seconds within ``[min_seconds, max_seconds]``, of the
    first peak of the autocorrelation of the onset envelope of ``wave`` ``(C, N)`` or
    ``(N,)`` that reaches :data:`ONSET_PEAK_SHARE` of the highest. The envelope is the
    positive spectral flux of the log magnitude (STFT 2048 at 22050 Hz, hop
    :data:`ONSET_HOP`). A texture that keeps a style's tempo has the style's period
    (Antognini et al. 2019).

    Not simply the highest peak: a steady beat's autocorrelation is as high at two or three
    beats as at one, and at a coarse hop a beat that is not a whole number of frames splits
    its one-beat peak over two lags. Click tracks of 50 periods from 0.30 to 0.97 s never read
    a multiple of their period by this rule; the highest peak at hop 512 read one 23 times
    (``docs/audio.md``, "Tempo measure")."""
    if not 0 < min_seconds < max_seconds:
        raise ValueError(f"min_seconds must be positive and below max_seconds, got "
                         f"{min_seconds} and {max_seconds}")
    wave = measured_wave(wave, sample_rate)  # (1, N') at the measures' level
    spec = log_spectrogram(wave, HELDOUT_N_FFT, ONSET_HOP).double()[0]  # (F, T)
    flux = torch.relu(spec.diff(dim=-1)).sum(0)  # (T - 1,)
    flux = flux - flux.mean()
    frames = flux.shape[0]
    lo = max(1, int(round(min_seconds * HELDOUT_RATE / ONSET_HOP)))
    hi = min(frames - 2, int(round(max_seconds * HELDOUT_RATE / ONSET_HOP)))
    if hi < lo:
        raise ValueError(f"wave is too short for lags up to {max_seconds} s")
    ac = torch.stack([(flux[:frames - k] * flux[k:]).sum() / (frames - k)
                      for k in range(lo - 1, hi + 2)])  # (hi - lo + 3,): lags lo - 1 .. hi + 1
    inner = ac[1:-1]  # lags lo .. hi
    peaks = (inner >= ac[:-2]) & (inner >= ac[2:]) & (inner >= ONSET_PEAK_SHARE * inner.max())
    first = int(peaks.nonzero()[0]) if bool(peaks.any()) else int(inner.argmax())
    return (lo + first) * ONSET_HOP / HELDOUT_RATE


def gap_closed(result_distance: float, content_distance_to_style: float) -> float:
    """Share of the content-to-style held-out gap a transfer closed:
    ``1 - result_distance / content_distance_to_style`` (1: the style's texture; 0: no
    closer than the content; negative: further)."""
    return 1.0 - result_distance / max(content_distance_to_style, 1e-30)


__all__ = ["HELDOUT_FILTERS", "HELDOUT_MIN_SECONDS", "HELDOUT_SEED", "HELDOUT_WIDTHS",
           "MEASURE_RMS", "ONSET_HOP", "ONSET_PEAK_SHARE", "OUT_OF_BAND", "band_shares",
           "content_distance", "gap_closed", "heldout_grams", "heldout_network",
           "heldout_style_distance", "measured_wave", "onset_period", "out_of_band_share",
           "quality_measures", "spectral_stats"]
