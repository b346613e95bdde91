"""Audio I/O and validation: read any file libsndfile reads, check it, resample, match levels.

Every problem with an input file is raised as ``ValueError`` naming the file
(``FileNotFoundError`` for a missing one), so the CLI reports one line and exits with status 2
before any long computation starts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torchaudio.functional as AF
from torch import Tensor

from shared import atomic_path

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
    def seconds(self) -> float:
        return self.samples.shape[-1] / self.sample_rate

    @property
    def name(self) -> str:
        return self.path or "<audio>"


def load_audio(path: str | Path) -> AudioClip:
    """Read and validate an audio file (WAV of any sample format, FLAC, OGG... via libsndfile).

    Returns:
        :class:`AudioClip` with samples of dimension ``(channels, time)``.

    Raises:
        FileNotFoundError: the file is missing.
        ValueError: the file is a folder, is empty, is not audio, holds no samples, or holds
            NaN or infinite samples.
    """
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{p}: no such file")
    if p.is_dir():
        raise ValueError(f"{p}: is a folder, not an audio file")
    if p.stat().st_size == 0:
        raise ValueError(f"{p}: the file is empty")
    try:
        data, rate = sf.read(str(p), dtype="float32", always_2d=True)  # (time, channels)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        raise ValueError(f"{p}: not a readable audio file ({' '.join(str(exc).split())})") from None
    except MemoryError:
        raise ValueError(f"{p}: too large to load into memory") from None
    if data.shape[0] == 0:
        raise ValueError(f"{p}: the audio holds zero samples")
    if not np.isfinite(data).all():
        bad = int((~np.isfinite(data)).sum())
        raise ValueError(f"{p}: the audio holds {bad} NaN or infinite samples")
    samples = torch.from_numpy(np.ascontiguousarray(data.T))  # (C, N)
    return AudioClip(samples=samples, sample_rate=int(rate), path=str(p))


def check_length(clip: AudioClip, min_samples: int, sample_rate: int, what: str) -> None:
    """Raise ``ValueError`` when ``clip`` resampled to ``sample_rate`` is shorter than
    ``min_samples`` (the network's receptive field)."""
    samples = math.floor(clip.samples.shape[-1] * sample_rate / clip.sample_rate)
    if samples < min_samples:
        raise ValueError(
            f"{clip.name}: the {what} is {clip.seconds:.3f} s long, shorter than the network's "
            f"receptive field of {min_samples / sample_rate:.3f} s; use a longer clip or "
            "smaller kernel_widths or hop"
        )


def downmix(samples: Tensor) -> Tensor:
    """Average the channels: ``(C, N)`` -> ``(1, N)``."""
    return samples.mean(dim=0, keepdim=True)  # (1, N)


def resample(samples: Tensor, orig_rate: int, new_rate: int) -> Tensor:
    """Band-limited resampling of ``(..., N)`` from ``orig_rate`` to ``new_rate`` Hz (returns
    the input when the rates are equal)."""
    if orig_rate == new_rate:
        return samples
    return AF.resample(samples, orig_rate, new_rate)  # (..., N * new / orig)


def rms(samples: Tensor) -> Tensor:
    """Root-mean-square level per channel: ``(C, N)`` -> ``(C,)``."""
    return samples.double().pow(2).mean(dim=-1).sqrt().to(samples.dtype)


def match_level(samples: Tensor, target_rms: Tensor) -> Tensor:
    """Scale each channel of ``(C, N)`` to ``target_rms`` (``(C,)`` or scalar), then scale all
    channels together down so that no sample exceeds :data:`PEAK_LIMIT`: never clipped.

    Silence stays silence (a zero channel is not amplified).
    """
    current = rms(samples)  # (C,)
    target = torch.as_tensor(target_rms, dtype=samples.dtype, device=samples.device)
    gain = torch.where(current > 0, target / current.clamp_min(1e-12), torch.zeros_like(current))
    out = samples * gain.unsqueeze(-1)  # (C, N)
    peak = out.abs().max() if out.numel() else out.new_zeros(())
    if peak > PEAK_LIMIT:
        out = out * (PEAK_LIMIT / peak)
    return out


def check_audio_output(path: str | Path) -> None:
    """Raise ``ValueError`` unless libsndfile can write a file with this name's suffix."""
    suffix = Path(path).suffix.lstrip(".").upper()
    known = sf.available_formats()
    if suffix not in known:
        raise ValueError(f"{path}: cannot write audio with suffix {Path(path).suffix!r}; "
                         "use .wav, .flac or .ogg")


def save_audio(path: str | Path, samples: Tensor, sample_rate: int) -> None:
    """Write ``(C, N)`` samples atomically (WAV: 16-bit PCM; FLAC/OGG: their defaults)."""
    data = samples.detach().to("cpu", torch.float32).clamp(-1.0, 1.0).numpy().T  # (N, C)
    suffix = Path(path).suffix.lstrip(".").upper()
    subtype = "PCM_16" if suffix == "WAV" else None
    with atomic_path(path) as tmp:
        sf.write(str(tmp), data, sample_rate, subtype=subtype, format=suffix)


__all__ = ["AudioClip", "PEAK_LIMIT", "check_audio_output", "check_length", "downmix",
           "load_audio", "match_level", "resample", "rms", "save_audio"]
