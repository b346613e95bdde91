"""Audio files read on demand: inputs of any length in the memory of a few blocks.

:func:`open_audio` checks a file whole in one pass (as :func:`audiostyle.audio.load_audio`
does) but keeps only its facts: rate, channels, length and levels. :class:`ResampledFile` is
then a ``(C, N)`` view of it at the working rate whose ranges are decoded and resampled when
asked for, block by block, on the same blocks as :func:`audiostyle.audio.resample`: a range of
the view equals that range of the whole file loaded and resampled, bit for bit. A style of
hours thus costs one block of samples while its Gram matrix is accumulated, not the file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Optional, Union

import numpy as np
import soundfile as sf
import torch
from torch import Tensor

from .audio import AudioClip, check_audio_path, load_audio
from .dsp import BLOCK, ResamplePlan, block_bar, downmix, resample


@dataclass(frozen=True, eq=False)
class AudioFile:
    """A checked audio file, read on demand (see :func:`open_audio`).

    Attributes:
        path: The file.
        sample_rate: Its rate in Hz.
        channels: Its channel count.
        frames: Its samples per channel.
        levels: RMS level per channel ``(C,)``.
        mono_level: RMS level of the channels' mean ``(1,)``.
    """

    path: str
    sample_rate: int
    channels: int
    frames: int
    levels: Tensor
    mono_level: Tensor

    @property
    def seconds(self) -> float:
        return self.frames / self.sample_rate

    @property
    def name(self) -> str:
        return self.path

    def read(self, start: int, stop: int) -> Tensor:
        """Samples ``[start, stop)`` of every channel as float32 ``(C, n)``."""
        with sf.SoundFile(self.path) as f:
            f.seek(start)
            data = f.read(stop - start, dtype="float32", always_2d=True)  # (n, C)
        return torch.from_numpy(np.ascontiguousarray(data.T))  # (C, n)

    def load(self, mono: bool = False) -> AudioClip:
        """The whole file in memory (:func:`audiostyle.audio.load_audio`)."""
        return load_audio(self.path, mono)


Source = Union[AudioClip, AudioFile]  # a recording in memory or a file read on demand


def open_audio(path: Union[str, Path], progress: Optional[str] = None
               ) -> Union[AudioFile, AudioClip]:
    """Check an audio file in one pass, block by block, and return it to be read on demand.

    The checks and errors are :func:`audiostyle.audio.load_audio`'s (missing, a folder, empty,
    not audio, no samples, NaN or infinite samples); the levels are computed on the way, on
    the blocks :func:`audiostyle.audio.rms` uses, so they equal its results bit for bit. A
    file that cannot seek (a stream of unknown length) is loaded whole instead: the
    :class:`AudioClip` is returned. ``progress``: label of a progress bar over the blocks of
    a long file.
    """
    p = Path(path)
    check_audio_path(p)
    try:
        with sf.SoundFile(str(p)) as f:
            if not f.seekable() or f.frames < 0:
                return load_audio(p)
            rate, channels = f.samplerate, f.channels
            sums, mono_sum, frames, bad = _scan(f, progress)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        raise ValueError(f"{p}: not a readable audio file ({' '.join(str(exc).split())})") from None
    if frames == 0:
        raise ValueError(f"{p}: the audio holds zero samples")
    if bad:
        raise ValueError(f"{p}: the audio holds {bad} NaN or infinite samples")
    levels = (sums / frames).sqrt().float()  # (C,)
    return AudioFile(str(p), int(rate), int(channels), frames, levels,
                     (mono_sum / frames).sqrt().float())


def _scan(f: sf.SoundFile, progress: Optional[str] = None) -> tuple[Tensor, Tensor, int, int]:
    """One pass over ``f`` in blocks of :data:`BLOCK`: float64 sums of squares per channel
    ``(C,)`` and of the channels' mean ``(1,)``, the samples per channel and the count of
    non-finite samples."""
    sums = torch.zeros(f.channels, dtype=torch.float64)
    mono = torch.zeros(1, dtype=torch.float64)
    frames = bad = 0
    blocks = f.blocks(blocksize=BLOCK, dtype="float32", always_2d=True)
    count = -(-f.frames // BLOCK)
    for block in block_bar(blocks, progress, count):  # (n, C)
        part = torch.from_numpy(np.ascontiguousarray(block.T))  # (C, n)
        frames += part.shape[-1]
        if not torch.isfinite(part.sum()):
            bad += int(part.isnan().sum() + part.isinf().sum())
            continue
        sums += part.double().square().sum(dim=-1)
        mean = part if part.shape[0] == 1 else part.mean(dim=0, keepdim=True)
        mono += mean.double().square().sum(dim=-1)
    return sums, mono, frames, bad


@dataclass(eq=False)
class ResampledFile:
    """A ``(C, N)`` view of an :class:`AudioFile` at ``rate`` Hz, decoded and resampled on
    demand: ``view[..., a:b]`` is a float32 tensor on ``device`` equal to
    ``resample(load_audio(path, mono).samples, file_rate, rate)[..., a:b]``.

    Only ranges of samples (``view[..., a:b]``) are read; :meth:`channel` and
    :meth:`downmix` give one-channel views, :meth:`to` a view on another device and
    :meth:`tensor` the whole view in memory. The last blocks read are kept, so that reading
    consecutive, overlapping ranges (as chunked Gram accumulation does) decodes each block
    about once.

    Attributes:
        file: The file.
        rate: The view's rate.
        channel: ``None``: every channel (``mono=False``) or their mean (``mono=True``);
            ``k``: channel ``k`` alone.
    """

    file: AudioFile
    rate: int
    mono: bool = True
    channel: Optional[int] = None
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def _plan(self) -> ResamplePlan:
        return ResamplePlan(self.file.frames, self.file.sample_rate, self.rate)

    @property
    def shape(self) -> torch.Size:
        rows = 1 if self.mono or self.channel is not None else self.file.channels
        length = (self.file.frames if self.rate == self.file.sample_rate
                  else self._plan.total)
        return torch.Size((rows, length))

    @property
    def dtype(self) -> torch.dtype:
        return torch.float32

    def channel_view(self, k: int) -> "ResampledFile":
        """Channel ``k`` alone ``(1, N)`` (the channels are resampled together, as a whole
        file's are: the views of one file's channels share their blocks)."""
        cache = self._cache if not self.mono else {}
        return replace(self, mono=False, channel=k, _cache=cache)

    def downmix(self) -> "ResampledFile":
        """The channels' mean ``(1, N)``."""
        return self if self.mono else replace(self, mono=True, channel=None, _cache={})

    def to(self, device: Union[str, torch.device]) -> "ResampledFile":
        return replace(self, device=torch.device(device), _cache=self._cache)

    def tensor(self) -> Tensor:
        """The whole view in memory ``(C, N)`` (filled block by block)."""
        return self[..., 0:self.shape[-1]]

    def __getitem__(self, key: object) -> Tensor:
        if not (isinstance(key, tuple) and len(key) == 2 and key[0] is Ellipsis
                and isinstance(key[1], slice) and key[1].step in (None, 1)):
            raise TypeError(f"a ResampledFile is read as view[..., a:b], not view[{key!r}]")
        a, b, _ = key[1].indices(self.shape[-1])
        b = max(a, b)
        rows = self.shape[0] if self.channel is None else self.file.channels
        out = torch.empty(rows, b - a)
        if self.rate == self.file.sample_rate:
            out.copy_(self._read(a, b))
        else:
            plan = self._plan
            for k in self._blocks(plan, a, b):
                lo, hi = plan.output_span(k)
                part = self._block(plan, k)
                s, e = max(a, lo), min(b, hi)
                out[:, s - a:e - a] = part[:, s - lo:e - lo]
        if self.channel is not None:  # resampled with the others, as a loaded file would be
            out = out[self.channel:self.channel + 1].clone()
        return out.to(self.device)

    def _read(self, lo: int, hi: int) -> Tensor:
        """File samples ``[lo, hi)``: every channel ``(C, n)``, or their mean ``(1, n)``."""
        part = self.file.read(lo, min(hi, self.file.frames))  # (C_file, n)
        if self.mono and self.channel is None and part.shape[0] > 1:
            return part.mean(dim=0, keepdim=True)
        return part

    def _blocks(self, plan: ResamplePlan, a: int, b: int) -> range:
        """The plan's blocks whose outputs meet ``[a, b)``."""
        if plan.blocks == 1:
            return range(1)
        per = plan.output_span(0)[1]  # output samples of a whole block
        return range(a // per, min(plan.blocks, math.ceil(b / per)))

    def _block(self, plan: ResamplePlan, k: int) -> Tensor:
        if k not in self._cache:
            if len(self._cache) >= 2:
                self._cache.pop(next(iter(self._cache)))
            self._cache[k] = plan.run(k, self._read)
        return self._cache[k]


def working_view(source: Source, rate: int, mono: bool
                 ) -> Union[Tensor, ResampledFile]:
    """``source`` at ``rate`` Hz, downmixed with ``mono``: a tensor ``(C, N)`` for a clip in
    memory, a :class:`ResampledFile` for a file read on demand."""
    if isinstance(source, AudioFile):
        return ResampledFile(source, rate, mono)
    return resample(downmix(source.samples) if mono else source.samples, source.sample_rate,
                    rate)


def check_length(source: Source, min_samples: int, sample_rate: int, what: str) -> None:
    """Raise ``ValueError`` when ``source`` (a clip in memory or a file read on demand)
    resampled to ``sample_rate`` is shorter than ``min_samples`` (the network's receptive
    field)."""
    samples = math.floor(source.frames * sample_rate / source.sample_rate)
    if samples < min_samples:
        raise ValueError(
            f"{source.name}: the {what} is {source.seconds:.3f} s long, shorter than the "
            f"network's receptive field of {min_samples / sample_rate:.3f} s; use a longer clip "
            "or smaller kernel_widths or hop"
        )


__all__ = ["AudioFile", "ResampledFile", "Source", "check_length", "open_audio", "working_view"]
