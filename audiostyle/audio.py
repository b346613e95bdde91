"""Audio I/O and validation: read any file libsndfile reads, check it, resample, match levels.

Every problem with an input file is raised as ``ValueError`` naming the file
(``FileNotFoundError`` for a missing one), so the CLI reports one line and exits with status 2
before any long computation starts.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Optional, TypeVar

import numpy as np
import soundfile as sf
import torch
import torchaudio.functional as AF
from torch import Tensor

from shared import atomic_path, check_input_file

if TYPE_CHECKING:
    from .stream import AudioFile

T = TypeVar("T")
PEAK_LIMIT = 0.999  # the loudest sample a result may have (never clipped)


@dataclass
class AudioClip:
    """A decoded recording.

    Attributes:
        samples: Float32 tensor of dimension ``(channels, time)`` in [-1, 1] (floats may exceed).
        sample_rate: Its rate in Hz.
        path: Where it came from ("" for in-memory clips), for error messages.
    """

    samples: Tensor
    sample_rate: int
    path: str = ""

    @property
    def channels(self) -> int:
        return int(self.samples.shape[0])

    @property
    def frames(self) -> int:
        """Samples per channel."""
        return int(self.samples.shape[-1])

    @property
    def seconds(self) -> float:
        return self.samples.shape[-1] / self.sample_rate

    @property
    def name(self) -> str:
        return self.path or "<audio>"


def load_audio(path: str | Path, mono: bool = False) -> AudioClip:
    """Read and validate an audio file (WAV of any sample format, FLAC, OGG... via libsndfile).

    Args:
        mono: Downmix while reading (block by block: the memory of one channel, not of all).

    Returns:
        :class:`AudioClip` with samples of dimension ``(channels, time)`` (``(1, time)`` with
        ``mono``).

    Raises:
        FileNotFoundError: the file is missing.
        ValueError: the file is a folder, is empty, is not audio, holds no samples, or holds
            NaN or infinite samples.
    """
    p = check_audio_path(path)
    try:
        samples, rate = _read_blocks(p, mono)  # (C, N)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        raise ValueError(f"{p}: not a readable audio file ({' '.join(str(exc).split())})") from None
    except MemoryError:
        raise ValueError(f"{p}: too large to load into memory") from None
    if samples.shape[-1] == 0:
        raise ValueError(f"{p}: the audio holds zero samples")
    bad = int(samples.isnan().sum() + samples.isinf().sum()) if not torch.isfinite(
        samples.sum()) else 0
    if bad:
        raise ValueError(f"{p}: the audio holds {bad} NaN or infinite samples")
    return AudioClip(samples=samples, sample_rate=int(rate), path=str(p))


def check_audio_path(path: str | Path) -> Path:
    """``path`` as a ``Path``; ``FileNotFoundError`` if it is missing, ``ValueError`` if it is
    a folder or empty (:func:`shared.check_input_file`)."""
    return check_input_file(path, "an audio file")


BLOCK = 1 << 20  # samples per channel read, resampled or written at once


def _read_blocks(path: Path, mono: bool = False) -> tuple[Tensor, int]:
    """Decode ``path`` block by block into one ``(C, N)`` float32 tensor (``(1, N)``, the
    channels' mean, with ``mono``): memory of the result plus one block, not of the file
    twice over (decoded, then transposed)."""
    with sf.SoundFile(str(path)) as f:
        rate, channels = f.samplerate, f.channels
        frames = f.frames if f.seekable() else -1
        if frames < 0:  # a stream of unknown length: decode whole
            data = torch.from_numpy(np.ascontiguousarray(
                f.read(dtype="float32", always_2d=True).T))  # (C, N)
            return (downmix(data) if mono else data), rate
        out = torch.empty(1 if mono else channels, frames)
        done = 0
        for block in f.blocks(blocksize=BLOCK, dtype="float32", always_2d=True):  # (n, C)
            n = min(block.shape[0], frames - done)
            part = torch.from_numpy(block[:n].T)  # (C, n)
            out[:, done:done + n] = downmix(part) if mono else part
            done += n
        return out[:, :done], rate


def check_length(clip: "AudioClip | AudioFile", min_samples: int, sample_rate: int,
                 what: str) -> None:
    """Raise ``ValueError`` when ``clip`` (in memory or an
    :class:`audiostyle.stream.AudioFile`) resampled to ``sample_rate`` is shorter than
    ``min_samples`` (the network's receptive field)."""
    samples = math.floor(clip.frames * sample_rate / clip.sample_rate)
    if samples < min_samples:
        raise ValueError(
            f"{clip.name}: the {what} is {clip.seconds:.3f} s long, shorter than the network's "
            f"receptive field of {min_samples / sample_rate:.3f} s; use a longer clip or "
            "smaller kernel_widths or hop"
        )


def downmix(samples: Tensor) -> Tensor:
    """Average the channels: ``(C, N)`` -> ``(1, N)`` (a mono signal itself, not a copy)."""
    if samples.shape[0] == 1:
        return samples
    return samples.mean(dim=0, keepdim=True)  # (1, N)


# The resampler's filter: a Kaiser-windowed sinc (beta 14.77, 64 zero crossings a side),
# cut at 0.99 of the lower rate's Nyquist. One pass 48000 -> 22050 or 22050 -> 48000 keeps a
# tone within 0.01 dB up to 10.3 kHz (0.18 dB off at 10.5 kHz) and takes a 12 kHz tone 54 dB
# down. torchaudio's default (a Hann window over 6 zero crossings) took 0.7 dB off at 9 kHz
# and 2.6 dB at 10 kHz, and let the 12 kHz tone alias to 10.05 kHz only 13 dB down: the
# working signal and the written file lost the top of the band, and the held-out measures
# read a 48 kHz file's top band 3-5 dB too quiet (which flattered a result with noise
# there: the reference's Griffin-Lim hiss; benchmarks/bench_audio_quality.py, stereo case).
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


def soft_limit(x: Tensor) -> Tensor:
    """The waveform domain's samples from its variable ``x`` (any shape): ``x`` itself up to
    :data:`LIMIT_KNEE`, above it ``knee + w * tanh((|x| - knee) / w)`` with the sign of ``x``
    (``w = PEAK_LIMIT - knee``): smooth (slope 1 at the knee) and always below
    :data:`PEAK_LIMIT`, so the samples that are optimised are the samples written, never
    scaled down by :func:`match_level`'s peak limit afterwards.

    Why: a waveform stage that starts from a loud Griffin-Lim result (the optimised
    magnitude's level) or drifts above full scale was written scaled down, and the log
    spectrogram does not forgive a change of level (measured, speech -> piano, 300 + 300
    iterations: held-out style distance 0.086 on the optimised samples, 0.615 on the
    written file; drum texture: 0.030 and 0.158).
    """
    over = (x.abs() - LIMIT_KNEE).clamp_min(0.0)  # (...)
    limited = LIMIT_KNEE + _LIMIT_WIDTH * torch.tanh(over / _LIMIT_WIDTH)
    return torch.where(over > 0, x.sign() * limited, x)


def soft_limit_start(samples: Tensor) -> Tensor:
    """The variable whose :func:`soft_limit` is ``samples`` (any shape), after scaling
    ``samples`` down, if needed, so that its peak sits just under :data:`PEAK_LIMIT` (as
    :func:`match_level` would write them). Samples up to the knee are returned as they are."""
    ceiling = LIMIT_KNEE + 0.99 * _LIMIT_WIDTH  # the inverse stays finite below the limit
    peak = samples.abs().max() if samples.numel() else samples.new_zeros(())
    if peak > ceiling:
        samples = samples * (ceiling / peak)
    over = (samples.abs() - LIMIT_KNEE).clamp_min(0.0)  # (...)
    inverse = samples.sign() * (LIMIT_KNEE + _LIMIT_WIDTH
                                * torch.atanh((over / _LIMIT_WIDTH).clamp_max(0.99)))
    return torch.where(over > 0, inverse, samples)


def check_audio_output(path: str | Path, sample_rate: Optional[int] = None,
                       channels: int = 1) -> None:
    """Raise ``ValueError`` unless libsndfile can write a file with this name's suffix and,
    given ``sample_rate``, one at that rate with ``channels`` channels (a trial write of a few
    samples in memory: FLAC, for one, takes rates above 65535 Hz only in multiples of 10)."""
    suffix = Path(path).suffix.lstrip(".").upper()
    known = sf.available_formats()
    if suffix not in known:
        raise ValueError(f"{path}: cannot write audio with suffix {Path(path).suffix!r}; "
                         "use .wav, .flac or .ogg")
    if sample_rate is None:
        return
    try:
        with sf.SoundFile(io.BytesIO(), "w", int(sample_rate), int(channels),
                          subtype=_subtype(suffix), format=suffix) as f:
            f.write(np.zeros((16, int(channels)), dtype="float32"))
    except (sf.LibsndfileError, RuntimeError, ValueError) as exc:
        reason = " ".join(str(exc).split()).removeprefix("Error : ")
        raise ValueError(f"{path}: cannot write {suffix} audio at {sample_rate} Hz with "
                         f"{channels} channel(s) ({reason}); use .wav") from None


def _subtype(suffix: str) -> Optional[str]:
    """The sample format :func:`save_audio` writes: 16-bit PCM in WAV, the default else."""
    return "PCM_16" if suffix == "WAV" else None


def block_bar(blocks: Iterable[T], progress: Optional[str], count: Optional[int] = None
         ) -> Iterable[T]:
    """``blocks`` (``count`` of them, default ``len(blocks)``) under a progress bar labelled
    ``progress``; none for None or up to 4 blocks."""
    from tqdm.auto import tqdm

    count = len(blocks) if count is None else count  # type: ignore[arg-type]
    return tqdm(blocks, desc=progress, unit="block", total=count, leave=False,
                dynamic_ncols=True, disable=progress is None or count <= 4)


def save_audio(path: str | Path, samples: Tensor, sample_rate: int,
               progress: Optional[str] = None) -> None:
    """Write ``(C, N)`` samples atomically (WAV: 16-bit PCM; FLAC/OGG: their defaults).
    ``progress``: label of a progress bar over the blocks of a long signal."""
    samples = samples.detach().to("cpu", torch.float32)  # (C, N)
    suffix = Path(path).suffix.lstrip(".").upper()
    with atomic_path(path) as tmp:
        with sf.SoundFile(str(tmp), "w", sample_rate, samples.shape[0], subtype=_subtype(suffix),
                          format=suffix) as f:
            for start in block_bar(range(0, samples.shape[-1], BLOCK), progress):
                f.write(samples[:, start:start + BLOCK].clamp(-1.0, 1.0).numpy().T)


__all__ = ["AudioClip", "LIMIT_KNEE", "PEAK_LIMIT", "check_audio_output", "check_length",
           "downmix", "load_audio", "match_level", "resample", "rms", "save_audio", "soft_limit",
           "soft_limit_start"]
