"""The spectral side: log-magnitude spectrograms, Griffin-Lim reconstruction, its quality.

Ulyanov & Lebedev (2016) represent a clip by ``S = log1p(|STFT|)`` (Hann window, centred frames)
and discard the phase; the result's phase is recovered by Griffin-Lim (Griffin & Lim 1984), here
with the momentum of Fast Griffin-Lim (Perraudin, Balazs & Sondergaard 2013). The waveform
domain (see :class:`audiostyle.AudioStyleConfig`) needs no phase: it differentiates
:func:`log_spectrogram` with ``eps > 0`` with respect to the samples.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Optional

import torch
import torchaudio.functional as AF
from torch import Tensor


def hann_window(n_fft: int, device: torch.device | str = "cpu",
                dtype: torch.dtype = torch.float32) -> Tensor:
    """Periodic Hann window of dimension ``(n_fft,)``, built once per size, device and dtype
    (a shared tensor: do not modify it)."""
    return _window(n_fft, str(torch.device(device)), dtype)


@functools.lru_cache(maxsize=32)
def _window(n_fft: int, device: str, dtype: torch.dtype) -> Tensor:
    return torch.hann_window(n_fft, device=device, dtype=dtype)


@dataclass(frozen=True)
class Spectral:
    """The STFT settings every spectral step of the audio code shares, held once and passed
    around (as torchaudio's transforms hold theirs): ``n_fft`` (a periodic Hann window of
    that length, cached per device, see :func:`hann_window`), ``hop``, centred frames with
    reflect padding. Its methods are the module's functions with these settings."""

    n_fft: int = 2048
    hop: int = 512

    @property
    def bins(self) -> int:
        """``n_fft // 2 + 1`` frequency bins."""
        return self.n_fft // 2 + 1

    def frames(self, samples: int) -> int:
        """Frames of a signal of ``samples`` samples (:func:`num_frames`)."""
        return num_frames(samples, self.hop)

    def magnitude(self, wave: Tensor, eps: float = 0.0) -> Tensor:
        """:func:`magnitude`: ``(..., N)`` -> ``(..., F, T)``."""
        return magnitude(wave, self.n_fft, self.hop, eps)

    def log(self, wave: Tensor, eps: float = 0.0) -> Tensor:
        """:func:`log_spectrogram`: ``(..., N)`` -> ``log1p|STFT|`` ``(..., F, T)``."""
        return log_spectrogram(wave, self.n_fft, self.hop, eps)

    def phase(self, wave: Tensor) -> Tensor:
        """:func:`phase`: ``(..., N)`` -> radians ``(..., F, T)``."""
        return phase(wave, self.n_fft, self.hop)

    def frames_of(self, wave: Tensor, start: int, stop: int) -> Tensor:
        """:func:`stft_frames`: frames ``start:stop`` of the STFT, complex
        ``(..., F, stop - start)``, from the samples they cover only."""
        return stft_frames(wave, start, stop, self.n_fft, self.hop)

    def log_frames(self, wave: Tensor, start: int, stop: int) -> Tensor:
        """``log1p`` of :meth:`frames_of`'s magnitude: ``(..., F, stop - start)``."""
        return torch.log1p(self.frames_of(wave, start, stop).abs())

    def inverse(self, spec: Tensor, length: Optional[int] = None) -> Tensor:
        """:func:`inverse_stft`: complex ``(..., F, T)`` -> ``(..., length)``."""
        return inverse_stft(spec, self.n_fft, self.hop, length)

    def convergence(self, mag: Tensor, wave: Tensor) -> float:
        """:func:`spectral_convergence` of ``wave`` against ``mag``."""
        return spectral_convergence(mag, wave, self.n_fft, self.hop)

    def match_level(self, wave: Tensor, mag: Tensor) -> Tensor:
        """:func:`match_spectral_level`."""
        return match_spectral_level(wave, mag, self.n_fft, self.hop)

    def griffin_lim(self, mag: Tensor, n_iter: int = 500, momentum: float = 0.99,
                    **options: object) -> Tensor:
        """:func:`griffin_lim` (``options``: its ``length``, ``generator``, ``init_phase``,
        ``progress``)."""
        return griffin_lim(mag, self.n_fft, self.hop, n_iter, momentum,
                           **options)  # type: ignore[arg-type]

    def griffin_lim_phase(self, mag: Tensor, n_iter: int = 500, momentum: float = 0.99,
                          **options: object) -> Tensor:
        """:func:`griffin_lim_phase` (``options`` as there)."""
        return griffin_lim_phase(mag, self.n_fft, self.hop, n_iter, momentum,
                                 **options)  # type: ignore[arg-type]


def num_frames(samples: int, hop: int) -> int:
    """Centred STFT frames of a signal of ``samples`` samples: ``1 + samples // hop``."""
    return 1 + samples // hop


def magnitude(wave: Tensor, n_fft: int, hop: int, eps: float = 0.0) -> Tensor:
    """``|STFT|`` of ``(..., time)`` -> ``(..., n_fft // 2 + 1, 1 + time // hop)``.

    Args:
        eps: 0 for the exact magnitude; ``eps > 0`` gives ``sqrt(re^2 + im^2 + eps)``, whose
            gradient with respect to ``wave`` is finite where the STFT is 0 (silence), for
            optimising the waveform itself (the waveform domain; ``eps = 1e-12`` moves the
            magnitude by at most 1e-6).
    """
    if not eps >= 0:
        raise ValueError(f"eps must be non-negative, got {eps}")
    window = hann_window(n_fft, wave.device, wave.dtype)
    if eps > 0:
        lead = wave.shape[:-1]
        spec = torch.stft(wave.reshape(-1, wave.shape[-1]), n_fft=n_fft, hop_length=hop,
                          win_length=n_fft, window=window, center=True, pad_mode="reflect",
                          return_complex=True)  # (B, F, T), the same STFT as below
        mag = torch.sqrt(spec.real.square() + spec.imag.square() + eps)  # (B, F, T)
        return mag.reshape(*lead, *mag.shape[-2:])  # (..., F, T)
    return AF.spectrogram(wave, pad=0, window=window, n_fft=n_fft, hop_length=hop,
                          win_length=n_fft, power=1.0, normalized=False, center=True,
                          pad_mode="reflect")  # (..., F, T)


def phase(wave: Tensor, n_fft: int, hop: int) -> Tensor:
    """STFT phase in radians: ``(..., time)`` -> ``(..., n_fft // 2 + 1, 1 + time // hop)``."""
    window = hann_window(n_fft, wave.device, wave.dtype)
    return AF.spectrogram(wave, pad=0, window=window, n_fft=n_fft, hop_length=hop,
                          win_length=n_fft, power=None, normalized=False, center=True,
                          pad_mode="reflect").angle()  # (..., F, T)


def stft_frames(wave: Tensor, start: int, stop: int, n_fft: int, hop: int) -> Tensor:
    """Frames ``start:stop`` of the centred STFT of ``wave`` ``(..., time)``, computed from the
    samples they cover only: ``(..., n_fft // 2 + 1, stop - start)`` complex, equal to
    ``stft(wave)[..., start:stop]`` (same window, same reflect padding at the signal's ends)
    without transforming the rest of a long signal."""
    total = num_frames(wave.shape[-1], hop)
    if not 0 <= start < stop <= total:
        raise ValueError(f"frames {start}:{stop} outside the {total} frames of the signal")
    pad, samples = n_fft // 2, wave.shape[-1]
    lo, hi = start * hop - pad, (stop - 1) * hop + pad + (n_fft % 2)  # samples covered
    left, right = max(0, -lo), max(0, hi - samples)
    # reflecting `left` samples needs samples 1..left, `right` needs the last right + 1
    first = max(0, min(lo, samples - right - 1)) if right else max(lo, 0)
    last = min(samples, max(hi, left + 1)) if left else min(hi, samples)
    seg = wave[..., first:last]
    if left or right:
        lead = seg.shape[:-1]
        seg = torch.nn.functional.pad(seg.reshape(-1, 1, seg.shape[-1]), (left, right),
                                      mode="reflect").reshape(*lead, -1)
        seg = seg[..., lo - (first - left):][..., :hi - lo]
    window = hann_window(n_fft, wave.device, wave.dtype)
    lead = seg.shape[:-1]
    spec = torch.stft(seg.reshape(-1, seg.shape[-1]), n_fft=n_fft, hop_length=hop,
                      win_length=n_fft, window=window, center=False,
                      return_complex=True)  # (B, F, stop - start)
    return spec.reshape(*lead, *spec.shape[-2:])


def log_spectrogram(wave: Tensor, n_fft: int, hop: int, eps: float = 0.0) -> Tensor:
    """The reference's features: ``log1p(|STFT|)``, ``(..., time)`` -> ``(..., F, T)``.

    ``eps > 0`` takes the magnitude as ``sqrt(re^2 + im^2 + eps)`` (see :func:`magnitude`), so
    that the spectrogram is differentiable in the waveform everywhere.
    """
    return torch.log1p(magnitude(wave, n_fft, hop, eps)).contiguous()  # (..., F, T)


def log_to_magnitude(log_spec: Tensor) -> Tensor:
    """Invert :func:`log_spectrogram`'s compression: ``exp(S) - 1``, clamped at 0.

    .. note:: The reference feeds ``exp(S) - 1`` to Griffin-Lim unclamped; the optimised ``S``
       can dip below 0, and a negative magnitude only flips the phase, so clamping is safer.
    """
    return torch.expm1(log_spec).clamp_min(0.0)


def griffin_lim(
    mag: Tensor,
    n_fft: int,
    hop: int,
    n_iter: int = 500,
    momentum: float = 0.99,
    length: Optional[int] = None,
    generator: Optional[torch.Generator] = None,
    init_phase: Optional[Tensor] = None,
    progress: Optional[str] = None,
) -> Tensor:
    """Waveform whose STFT magnitude approximates ``mag`` (Fast Griffin-Lim).

    Args:
        mag: Magnitude spectrogram ``(..., F, T)`` (``F = n_fft // 2 + 1``).
        n_fft, hop: STFT parameters (Hann window, centred frames).
        n_iter: Iterations; 0 gives the random-phase inversion.
        momentum: Fast Griffin-Lim's alpha in [0, 1) (0 is plain Griffin-Lim, as the reference).
        length: Samples of the output (default ``(T - 1) * hop``).
        generator: Draws the initial phase, uniform in [-pi, pi) as in the reference (a CPU
            generator; the phase is drawn on the CPU and moved to ``mag``'s device).
        init_phase: Start from this phase instead, in radians, ``(..., F, T)`` (e.g. the
            content's, see :func:`phase`).
        progress: Label of a progress bar (with ETA) over the iterations; None for none.

    Returns:
        Waveform of dimension ``(..., time)``.

    .. note:: The same iteration as ``torchaudio.functional.griffinlim`` (including its
       momentum), written out because that function cannot take a seeded initial phase.
    """
    angles = griffin_lim_phase(mag, n_fft, hop, n_iter, momentum, length, generator,
                               init_phase, progress)  # (..., F, T)
    return inverse_stft(mag * angles, n_fft, hop, length)  # (..., time)


def inverse_stft(spec: Tensor, n_fft: int, hop: int, length: Optional[int] = None) -> Tensor:
    """Centred inverse STFT (Hann window): complex ``(..., F, T)`` -> ``(..., length)``
    (default ``(T - 1) * hop``)."""
    if length is None:
        length = (spec.shape[-1] - 1) * hop
    window = hann_window(n_fft, spec.device, spec.real.dtype)
    lead = spec.shape[:-2]
    wave = torch.istft(spec.reshape(-1, *spec.shape[-2:]), n_fft=n_fft, hop_length=hop,
                       win_length=n_fft, window=window, center=True, length=length)
    return wave.reshape(*lead, wave.shape[-1])  # (..., time)


def griffin_lim_phase(
    mag: Tensor,
    n_fft: int,
    hop: int,
    n_iter: int = 500,
    momentum: float = 0.99,
    length: Optional[int] = None,
    generator: Optional[torch.Generator] = None,
    init_phase: Optional[Tensor] = None,
    progress: Optional[str] = None,
    fixed_frames: int = 0,
) -> Tensor:
    """:func:`griffin_lim`'s final phase, as unit complex numbers ``(..., F, T)``: the
    reconstruction is ``inverse_stft(mag * phase)``.

    Args:
        fixed_frames: Hold the phase of the first ``fixed_frames`` frames at ``init_phase``
            (a block continuing an earlier block's reconstruction, see
            :func:`audiostyle.windows.griffin_lim_blocks`); 0 updates every frame.
        Others: as :func:`griffin_lim`.
    """
    if not 0.0 <= momentum < 1.0:
        raise ValueError(f"momentum must be in [0, 1), got {momentum}")
    window = hann_window(n_fft, mag.device, mag.dtype)
    if length is None:
        length = (mag.shape[-1] - 1) * hop
    if init_phase is None:
        init_phase = (torch.rand(mag.shape, generator=generator, dtype=mag.dtype) * 2 - 1) * math.pi
    elif init_phase.shape != mag.shape:
        raise ValueError(f"init_phase has shape {tuple(init_phase.shape)}, mag {tuple(mag.shape)}")
    init_phase = init_phase.to(mag.device, mag.dtype)
    angles = torch.polar(torch.ones_like(init_phase), init_phase)  # (..., F, T) complex
    lead = mag.shape[:-2]
    mag = mag.reshape(-1, *mag.shape[-2:])  # (B, F, T)
    angles = angles.reshape(mag.shape)
    held = angles[..., :fixed_frames].clone()  # (B, F, fixed_frames)
    previous = torch.zeros_like(angles)
    steps = range(n_iter)
    if progress is not None:
        from tqdm.auto import tqdm

        steps = tqdm(steps, desc=progress, unit="it", leave=False, dynamic_ncols=True)
    for _ in steps:
        wave = torch.istft(mag * angles, n_fft=n_fft, hop_length=hop, win_length=n_fft,
                           window=window, center=True, length=length)  # (B, time)
        rebuilt = torch.stft(wave, n_fft=n_fft, hop_length=hop, win_length=n_fft,
                             window=window, center=True, pad_mode="reflect",
                             return_complex=True)  # (B, F, T)
        angles = rebuilt - previous * (momentum / (1 + momentum)) if momentum else rebuilt
        angles = angles / (angles.abs() + 1e-16)
        if fixed_frames:
            angles[..., :fixed_frames] = held
        previous = rebuilt
    return angles.reshape(*lead, *angles.shape[-2:])  # (..., F, T)


def spectral_convergence(mag: Tensor, wave: Tensor, n_fft: int, hop: int) -> float:
    """``|| |S| - |STFT(wave)| ||_F / || |S| ||_F``: how consistent a reconstruction is.

    Args:
        mag: The target magnitude ``(..., F, T)``.
        wave: The reconstruction ``(..., time)`` whose STFT has ``T`` frames.

    Returns:
        A float >= 0 (0 for a perfect match; 0 as well when ``mag`` is all zero and so is the
        reconstruction's spectrum).
    """
    rebuilt = magnitude(wave, n_fft, hop)[..., : mag.shape[-1]]  # (..., F, T)
    num = torch.linalg.vector_norm(mag - rebuilt)
    den = torch.linalg.vector_norm(mag)
    if float(den) == 0.0:
        return 0.0 if float(num) == 0.0 else float("inf")
    return float(num / den)


def match_spectral_level(wave: Tensor, mag: Tensor, n_fft: int, hop: int) -> Tensor:
    """``wave`` scaled so that its STFT magnitude has the norm of ``mag``.

    Griffin-Lim's output of an inconsistent spectrogram is quieter than the spectrogram (the
    inconsistent part cancels); this gives it back the level that was optimised.

    Args:
        mag: The target magnitude ``(1, F, T)``.
        wave: Its reconstruction ``(1, time)``.

    Returns:
        ``(1, time)``; ``wave`` unchanged if it is silent.
    """
    rebuilt = torch.linalg.vector_norm(magnitude(wave, n_fft, hop)[..., : mag.shape[-1]])
    if float(rebuilt) == 0.0:
        return wave
    return wave * (torch.linalg.vector_norm(mag) / rebuilt)


__all__ = ["Spectral", "griffin_lim", "griffin_lim_phase", "hann_window", "inverse_stft",
           "log_spectrogram", "log_to_magnitude", "magnitude", "match_spectral_level",
           "num_frames", "phase", "spectral_convergence", "stft_frames"]
