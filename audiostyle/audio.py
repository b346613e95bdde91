"""Audio I/O and validation: read any file libsndfile reads, check it, write atomically.

Every problem with an input file is raised as ``ValueError`` naming the file
(``FileNotFoundError`` for a missing one), so the CLI reports one line and exits with status 2
before any long computation starts.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import soundfile as sf
import torch
from torch import Tensor

from shared import atomic_path, check_input_file

from .dsp import BLOCK, block_bar, downmix


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


__all__ = ["AudioClip", "check_audio_output", "check_audio_path", "load_audio", "save_audio"]
