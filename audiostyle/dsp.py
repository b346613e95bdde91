"""Signal helpers on sample tensors: downmix, band-limited resampling, levels, a soft limiter.

Pure tensor functions (no files): :mod:`audiostyle.audio` reads and writes, and every stage of
the pipeline resamples, measures and limits through these.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Iterable, Optional, TypeVar

import torch
import torchaudio.functional as AF
from torch import Tensor

T = TypeVar("T")
BLOCK = 1 << 20  # samples per channel read, resampled or written at once
PEAK_LIMIT = 0.999  # the loudest sample a result may have (never clipped)


def block_bar(blocks: Iterable[T], progress: Optional[str], count: Optional[int] = None
              ) -> Iterable[T]:
    """``blocks`` (``count`` of them, default ``len(blocks)``) under a progress bar labelled
    ``progress``; none for None or up to 4 blocks."""
    from tqdm.auto import tqdm

    count = len(blocks) if count is None else count  # type: ignore[arg-type]
    return tqdm(blocks, desc=progress, unit="block", total=count, leave=False,
                dynamic_ncols=True, disable=progress is None or count <= 4)


def downmix(samples: Tensor) -> Tensor:
    """Average the channels: ``(C, N)`` -> ``(1, N)`` (a mono signal itself, not a copy)."""
    if samples.shape[0] == 1:
        return samples
    return samples.mean(dim=0, keepdim=True)  # (1, N)


# The resampler's filter: a Kaiser-windowed sinc (beta 14.77, 64 zero crossings a side), cut at
# 0.99 of the lower rate's Nyquist, instead of torchaudio's default (a Hann window over 6 zero
# crossings), which lets a 12 kHz tone alias to 10 kHz only 13 dB down on 48000 -> 22050 Hz
# (this one: 54 dB; docs/audio.md, "Resampling").
RESAMPLE_ZERO_CROSSINGS = 64
RESAMPLE_ROLLOFF = 0.99
RESAMPLE_FILTER: dict[str, object] = dict(lowpass_filter_width=RESAMPLE_ZERO_CROSSINGS,
                                          rolloff=RESAMPLE_ROLLOFF,
                                          resampling_method="sinc_interp_kaiser",
                                          beta=14.769656459379492)


def _sinc_resample(samples: Tensor, orig_rate: int, new_rate: int) -> Tensor:
    """``torchaudio.functional.resample`` of ``(..., N)`` with :data:`RESAMPLE_FILTER`."""
    return AF.resample(samples, orig_rate, new_rate, **RESAMPLE_FILTER)  # type: ignore[arg-type]


def resample(samples: Tensor, orig_rate: int, new_rate: int,
             progress: Optional[str] = None) -> Tensor:
    """Band-limited resampling of ``(..., N)`` from ``orig_rate`` to ``new_rate`` Hz
    (:data:`RESAMPLE_FILTER`; returns the input when the rates are equal). ``progress``:
    label of a progress bar over the blocks of a long signal."""
    if orig_rate == new_rate:
        return samples
    plan = ResamplePlan(samples.shape[-1], orig_rate, new_rate)
    if plan.blocks == 1:
        return _sinc_resample(samples, orig_rate, new_rate)  # (..., N * new / orig)
    out = samples.new_empty(*samples.shape[:-1], plan.total)
    for k in block_bar(range(plan.blocks), progress):
        a, b = plan.output_span(k)
        out[..., a:b] = plan.run(k, lambda lo, hi: samples[..., lo:hi])
    return out


@dataclass(frozen=True)
class ResamplePlan:
    """How a long signal of ``samples`` input samples is resampled block by block, each block
    with a margin of whole periods on both sides (at least twice the windowed sinc's support),
    so that the blocks' outputs are the whole signal's resampling (bit for bit) without its
    intermediate tensors for the whole length at once. A signal of at most two blocks is one
    block: one ``torchaudio.functional.resample`` call, as for short signals."""

    samples: int
    orig_rate: int
    new_rate: int

    @property
    def steps(self) -> tuple[int, int]:
        """(input, output) samples of one period of the rate ratio."""
        g = math.gcd(self.orig_rate, self.new_rate)
        return self.orig_rate // g, self.new_rate // g

    @property
    def block_size(self) -> int:
        """Input samples per block: whole periods."""
        return max(1, BLOCK // self.steps[0]) * self.steps[0]

    @property
    def blocks(self) -> int:
        return 1 if self.samples <= 2 * self.block_size else -(-self.samples // self.block_size)

    @property
    def total(self) -> int:
        """Output samples: torchaudio's own output length (its float32 rounding included)."""
        step_in, step_out = self.steps
        return int(torch.ceil(torch.as_tensor(step_out * self.samples / step_in)))

    @property
    def support(self) -> int:
        """Input samples the filter reaches on each side of an output sample: its zero
        crossings at the lower rate's cutoff, counted at the input rate."""
        step_in, step_out = self.steps
        return math.ceil(RESAMPLE_ZERO_CROSSINGS * step_in
                         / (RESAMPLE_ROLLOFF * min(step_in, step_out)))

    def output_span(self, k: int) -> tuple[int, int]:
        """The output samples ``[a, b)`` that block ``k`` gives."""
        if self.blocks == 1:
            return 0, self.total
        (step_in, step_out), start = self.steps, k * self.block_size
        a = start // step_in * step_out
        return a, min(a + self.block_size // step_in * step_out, self.total)

    def run(self, k: int, read: Callable[[int, int], Tensor]) -> Tensor:
        """Block ``k``'s output ``(..., b - a)`` from ``read(lo, hi)``, the input samples
        ``[lo, hi)`` ``(..., hi - lo)``."""
        if self.blocks == 1:
            return _sinc_resample(read(0, self.samples), self.orig_rate, self.new_rate)
        (step_in, step_out), start = self.steps, k * self.block_size
        margin = -(-max(4096, 2 * self.support) // step_in) * step_in  # whole periods
        lo = max(0, start - margin)
        part = _sinc_resample(read(lo, start + self.block_size + margin), self.orig_rate,
                              self.new_rate)
        a, b = self.output_span(k)
        first = (start - lo) // step_in * step_out
        return part[..., first:first + b - a]


def rms(samples: Tensor) -> Tensor:
    """Root-mean-square level per channel: ``(C, N)`` -> ``(C,)``, accumulated in float64
    block by block (no float64 copy of a long signal)."""
    total = torch.zeros(samples.shape[:-1], dtype=torch.float64, device=samples.device)
    for start in range(0, samples.shape[-1], BLOCK):
        total += samples[..., start:start + BLOCK].double().square().sum(dim=-1)
    return (total / max(samples.shape[-1], 1)).sqrt().to(samples.dtype)


def match_level(samples: Tensor, target_rms: Tensor, inplace: bool = False) -> Tensor:
    """Scale each channel of ``(C, N)`` to ``target_rms`` (``(C,)`` or scalar), then scale all
    channels together down so that no sample exceeds :data:`PEAK_LIMIT`: never clipped.

    Silence stays silence (a zero channel is not amplified). ``inplace`` scales ``samples``
    itself (no copy of a long signal).
    """
    current = rms(samples)  # (C,)
    target = torch.as_tensor(target_rms, dtype=samples.dtype, device=samples.device)
    gain = torch.where(current > 0, target / current.clamp_min(1e-12), torch.zeros_like(current))
    out = samples.mul_(gain.unsqueeze(-1)) if inplace else samples * gain.unsqueeze(-1)
    peak = out.abs().max() if out.numel() else out.new_zeros(())
    if peak > PEAK_LIMIT:
        out.mul_(PEAK_LIMIT / peak)
    return out


LIMIT_KNEE = 0.9  # soft_limit passes samples up to this magnitude unchanged
_LIMIT_WIDTH = PEAK_LIMIT - LIMIT_KNEE  # soft_limit's range above the knee
START_CEILING = LIMIT_KNEE + 0.99 * _LIMIT_WIDTH  # a start's peak: soft_limit's inverse stays finite


def soft_limit(x: Tensor) -> Tensor:
    """The waveform domain's samples from its variable ``x`` (any shape): ``x`` itself up to
    :data:`LIMIT_KNEE`, above it ``knee + w * tanh((|x| - knee) / w)`` with the sign of ``x``
    (``w = PEAK_LIMIT - knee``): smooth (slope 1 at the knee) and always below
    :data:`PEAK_LIMIT`, so the samples that are optimised are the samples written, never
    scaled down by :func:`match_level`'s peak limit afterwards (a result written scaled down
    loses its match: the log spectrogram is not scale-invariant).
    """
    over = (x.abs() - LIMIT_KNEE).clamp_min(0.0)  # (...)
    limited = LIMIT_KNEE + _LIMIT_WIDTH * torch.tanh(over / _LIMIT_WIDTH)
    return torch.where(over > 0, x.sign() * limited, x)


def start_gain(samples: Tensor) -> float:
    """How far :func:`soft_limit_start` scales a loud start down: ``peak / ceiling`` of
    ``samples`` (any shape) when its peak is over the ceiling (just under
    :data:`PEAK_LIMIT`), else 1."""
    peak = float(samples.abs().max()) if samples.numel() else 0.0
    return max(1.0, peak / START_CEILING)


def soft_limit_start(samples: Tensor) -> Tensor:
    """The variable whose :func:`soft_limit` is ``samples`` (any shape), after scaling
    ``samples`` down by :func:`start_gain`, if needed, so that its peak sits just under
    :data:`PEAK_LIMIT` (as :func:`match_level` would write them). Samples up to the knee are
    returned as they are."""
    gain = start_gain(samples)
    if gain > 1.0:
        samples = samples / gain
    over = (samples.abs() - LIMIT_KNEE).clamp_min(0.0)  # (...)
    inverse = samples.sign() * (LIMIT_KNEE + _LIMIT_WIDTH
                                * torch.atanh((over / _LIMIT_WIDTH).clamp_max(0.99)))
    return torch.where(over > 0, inverse, samples)


__all__ = ["BLOCK", "LIMIT_KNEE", "PEAK_LIMIT", "RESAMPLE_FILTER", "ResamplePlan", "block_bar",
           "downmix", "match_level", "resample", "rms", "soft_limit", "soft_limit_start", "start_gain"]
