"""Using trained audio networks on files: stylise recordings, draw textures.

:func:`stylize_files` takes any number of recordings (any rate and format libsndfile reads),
loads the model once, checks every input and output before it writes anything, and writes each
result atomically at its input's rate. A clip is stylised whole up to :data:`WHOLE_SECONDS`
and in blocks beyond (:class:`~.render.Streamer`, whose output is the same), so the network's
memory is bounded whatever the length; with ``stream`` every clip goes through the streamer in
blocks of ``block_ms``, as a live input would arrive. :func:`sample_file` draws a texture of
any length from a texture model, frame chunk by frame chunk.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

import soundfile as sf
import torch
from torch import Tensor

from shared import check_output_path
from shared.io import named_after

from ..audio import check_audio_output, load_audio, save_audio
from ..dsp import resample, soft_limit
from .modelfile import ModelInfo, load_model
from .networks import AudioTextureNet, AudioTransformNet, Streamable
from .render import (START, OverlapAdd, State, Streamer, stylize_samples, texture_noise,
                     texture_stream)

WHOLE_SECONDS = 60.0  # clips up to this long are stylised in one pass; longer in blocks
LONG_BLOCK_SECONDS = 10.0  # the blocks of a longer clip
AUDIO_OUT = (".wav", ".flac", ".ogg")


@dataclass
class Stylized:
    """One written result and what it cost."""

    path: Path
    seconds_audio: float  # length of the input
    seconds: float  # time spent stylising it (resampling, network, overlap-add), not loading
    channels: int

    @property
    def realtime_factor(self) -> float:
        """Seconds of audio per second of work."""
        return self.seconds_audio / max(self.seconds, 1e-9)


@dataclass
class StylizeReport:
    """What :func:`stylize_files` did."""

    results: list[Stylized] = field(default_factory=list)
    latency_ms: float = 0.0  # algorithmic latency of the stream: look-back plus one block
    block_ms: float = 0.0  # the block (stream) or the shortest useful block (one hop)
    look_ahead_ms: float = 0.0  # the networks are causal: always 0


def load_for(path: str | Path, want: str, device: torch.device) -> tuple[Streamable, ModelInfo]:
    """A model of mode ``want`` (``"stylize"`` or ``"texture"``), or ``ValueError`` saying
    which command the model is for."""
    net, info = load_model(path, device)
    if info.mode != want:
        if want == "stylize":
            raise ValueError(f"{path}: is a texture model (it draws texture from noise, no "
                             "content); use audiostyle sample with it")
        raise ValueError(f"{path}: is a stylisation model (it needs a content recording); use "
                         "audiostyle stylize with it")
    return net, info


def block_samples(block_ms: Optional[float], net: Streamable, rate: int) -> int:
    """Samples of a stream's block: ``block_ms`` (default: one hop), at least one hop."""
    hop = net.codec.hop
    if block_ms is None:
        return hop
    n = int(round(block_ms * rate / 1000.0))
    if not block_ms > 0 or n < hop:
        raise ValueError(f"block_ms {block_ms:g} is shorter than one frame step of the "
                         f"model's STFT ({1000.0 * hop / rate:.1f} ms, {hop} samples)")
    return n


def check_inputs(inputs: Sequence[Path]) -> None:
    """Every input is a file libsndfile can read, before any work."""
    if not inputs:
        raise ValueError("inputs must name at least one recording")
    for p in inputs:
        if not p.exists():
            raise FileNotFoundError(f"{p}: no such file")
        if not p.is_file():
            raise ValueError(f"{p}: is not a file")
        try:
            sf.info(str(p))
        except (sf.LibsndfileError, RuntimeError, TypeError, ValueError):
            raise ValueError(f"{p}: not an audio file libsndfile can read") from None


def output_paths(model: Path, inputs: list[Path], out: Path) -> list[Path]:
    """Where each result goes: ``out`` for one input (unless a folder), else files named after
    the inputs in the folder ``out``; ``ValueError`` if one would overwrite an input or the
    model or cannot be written."""
    protected = [*inputs, model]
    if len(inputs) == 1 and not out.is_dir():
        if out.suffix.lower() not in AUDIO_OUT:
            raise ValueError(f"output {out}: use a .wav, .flac or .ogg name")
        return [check_output_path(out, protected)]
    if out.exists() and not out.is_dir():
        raise ValueError(f"output {out}: several inputs need an output folder, and it is a file")
    if not out.exists() and out.suffix.lower() in AUDIO_OUT:
        raise ValueError(f"output {out}: several inputs need an output folder, not a file name")
    paths = named_after(inputs, out, AUDIO_OUT, ".wav")
    if out.exists():
        for t in paths:
            check_output_path(t, protected)
    else:
        check_output_path(out)
    return paths


def stylize_wave(net: AudioTransformNet, wave: Tensor, rate: int,
                 block: Optional[int] = None) -> Tensor:
    """Stylise ``wave`` ``(C, N)`` at the model's ``rate``: whole (``block`` None, up to
    :data:`WHOLE_SECONDS`) or through the streamer in blocks of ``block`` samples."""
    if block is None and wave.shape[-1] <= WHOLE_SECONDS * rate:
        with torch.inference_mode():
            return stylize_samples(net, wave)
    step = block or int(LONG_BLOCK_SECONDS * rate)
    streamer = Streamer(net, wave.shape[0])
    parts = [streamer.push(wave[:, i:i + step]) for i in range(0, wave.shape[-1], step)]
    parts.append(streamer.finish())
    return torch.cat(parts, dim=-1)


def stylize_files(model: str | Path, inputs: Sequence[str | Path], output: str | Path, *,
                  stereo: bool = False, stream: bool = False, block_ms: Optional[float] = None,
                  device: torch.device | str = "cpu", progress: bool = False) -> StylizeReport:
    """Stylise recordings with a model file; write the results atomically.

    Args:
        stereo: Stylise each channel (default: the downmix).
        stream: Run every clip through the streamer in blocks of ``block_ms``.
        block_ms: The stream's block (default: one hop of the model's STFT).

    Returns:
        :class:`StylizeReport`: each result's path and seconds, and the stream's latency.

    Raises:
        FileNotFoundError: a missing model or input.
        ValueError: an image, texture or damaged model; an input that is not audio; an output
            that cannot be written or would overwrite an input or the model; a block below
            one hop.
    """
    device = torch.device(device)
    net, info = load_for(model, "stylize", device)
    in_paths = [Path(p) for p in inputs]
    check_inputs(in_paths)
    targets = output_paths(Path(model), in_paths, Path(output))
    block = block_samples(block_ms, net, info.sample_rate) if (stream or block_ms) else None
    shown = block or net.codec.hop
    report = StylizeReport(block_ms=1000.0 * shown / info.sample_rate,
                           latency_ms=1000.0 * (net.codec.delay + shown) / info.sample_rate)
    if len(in_paths) > 1:
        Path(output).mkdir(exist_ok=True)
    for i, (src, dst) in enumerate(zip(in_paths, targets)):
        clip = load_audio(src, mono=not stereo)
        check_audio_output(dst, clip.sample_rate, clip.channels)
        start = time.perf_counter()
        wave = resample(clip.samples.to(device), clip.sample_rate, info.sample_rate)
        out = stylize_wave(net, wave, info.sample_rate, block if stream else None)
        out = resample(out, info.sample_rate, clip.sample_rate)[:, :clip.frames]
        seconds = time.perf_counter() - start
        save_audio(dst, out, clip.sample_rate)
        report.results.append(Stylized(dst, clip.seconds, seconds, clip.channels))
        if progress:
            print(f"stylize: {i + 1}/{len(in_paths)} {dst} ({clip.seconds:.1f} s in "
                  f"{seconds:.2f} s)", file=sys.stderr)
    return report


def sample_wave(net: AudioTextureNet, samples: int, seed: int,
                chunk_frames: int = 4096) -> Tensor:
    """A texture of ``samples`` samples ``(1, samples)`` from seed ``seed``, drawn
    ``chunk_frames`` frames at a time (the same samples as one pass)."""
    codec, gen = net.codec, torch.Generator().manual_seed(int(seed))
    device = next(net.parameters()).device
    total = codec.frames(samples)
    ola, parts = OverlapAdd(codec, 1, device), []
    state: State = START
    with torch.inference_mode():
        for start in range(0, total, chunk_frames):
            noise = texture_noise(net, min(chunk_frames, total - start), gen).to(device)
            frames, state = texture_stream(net, noise, state)
            parts.append(ola.add(frames))
    return soft_limit(torch.cat(parts, dim=-1)[:, :samples])


def sample_file(model: str | Path, seconds: float, output: str | Path, *, seed: int = 0,
                device: torch.device | str = "cpu") -> Stylized:
    """Draw ``seconds`` of texture from a texture model and write it atomically.

    Raises:
        FileNotFoundError: a missing model.
        ValueError: a stylisation, image or damaged model; ``seconds`` not positive; an
            output that cannot be written or would overwrite the model.
    """
    if not seconds > 0:
        raise ValueError(f"seconds must be positive, got {seconds}")
    out = Path(output)
    if out.suffix.lower() not in AUDIO_OUT:
        raise ValueError(f"output {out}: use a .wav, .flac or .ogg name")
    check_output_path(out, [Path(model)])
    net, info = load_for(model, "texture", torch.device(device))
    check_audio_output(out, info.sample_rate, 1)
    start = time.perf_counter()
    wave = sample_wave(net, int(round(seconds * info.sample_rate)), seed)  # type: ignore[arg-type]
    took = time.perf_counter() - start
    save_audio(out, wave, info.sample_rate)
    return Stylized(out, seconds, took, 1)


__all__ = ["AUDIO_OUT", "StylizeReport", "Stylized", "WHOLE_SECONDS", "block_samples",
           "load_for", "output_paths", "sample_file", "sample_wave", "stylize_files",
           "stylize_wave"]
