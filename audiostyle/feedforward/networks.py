"""The feed-forward audio networks: causal 1-D convolutions over STFT frames, streamable.

Both networks work in their own short STFT (:class:`FrameCodec`: 1024 samples, hop 256 at
22.05 kHz by default: 46 ms a frame where the optimisation's front end takes 93 ms), so that a
live input is answered after ``n_fft - hop`` samples plus one block. The loss they are trained
on is not taken in this STFT but in the optimisation's own (``n_fft`` 2048, hop 512), of the
*written samples*, through the differentiable STFT of the waveform domain: so the network's
loss on a clip and the optimiser's final loss on it compare directly, and whatever the
resynthesis loses is trained against.

* :class:`AudioTransformNet` (stylise): ``log1p|X|`` of the content's frames in, with
  ``noise_input`` channels of noise beside them; out, up to three parts summed
  (:func:`~.render.frames_of`): the content's frames with a new log magnitude (a residual on
  the content's); generated partials, each bin with its own log magnitude and a phase that
  advances by the bin's centre frequency plus a learnt deviation, accumulated frame by frame;
  and, with ``noise_part``, filtered noise (a log magnitude per bin on random phases). Its
  last layer is zero at the start, so an untrained network returns the content. The content's
  phase alone cannot carry a style's steady partials (a strummed guitar's phases under a
  string chord smear it into noise; the first model trained that way closed 0.08 of the
  held-out gap where the default preset closed 0.59); Griffin-Lim or PGHI would need the whole
  clip or a look-ahead. The noise, in and out, is a function of the absolute frame index
  (:func:`~.render.frame_noise`), so a stream draws what the whole clip draws. Johnson et
  al.'s network has no noise; Ulyanov et al.'s texture networks feed it beside the content to
  stylise, and a deterministic map of a steady guitar cannot write a style's varied frames.
* :class:`AudioTextureNet` (texture): noise frames in, the generated part alone (Ulyanov et
  al. 2016's texture network, for audio), so a new seed or a longer noise draws new texture
  of any length.

Every convolution is causal (:class:`CausalConv`: padded on the past only) and the only
normalisation is over the channels of each frame (:class:`FrameNorm`); Johnson et al.'s
instance norm over the whole input cannot run block by block. :meth:`Streamable.stream` runs
any number of new frames on the state that the previous call left, and equals
``forward`` on the whole input.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Mapping, Optional

import torch
from torch import Tensor, nn

from ..spectral import hann_window

ARCHS = ("transform", "texture")
LOG_MAX = 12.0  # largest log1p magnitude a network may write (e^12: far above any real frame)
LEVEL_RMS = 0.1  # the level a transform network hears its input at, until training sets it
MAX_LEVEL_FRAMES = 4096  # the longest time constant of the running level (48 s at the defaults)


@dataclass(frozen=True)
class FrameCodec:
    """The networks' STFT: causal frames (no look-ahead), exactly invertible by overlap-add.

    Frame ``m`` covers samples ``[m * hop - (n_fft - hop), m * hop + hop)`` of the signal
    (zeros before its start): it is complete as soon as sample ``m * hop + hop - 1`` arrived.
    Every sample is covered by ``n_fft / hop`` frames (``hop`` must divide ``n_fft``), and
    :meth:`synthesize` divides the overlap-add by the windows' summed squares, so
    ``synthesize(analyse(x)) == x``.
    """

    n_fft: int = 1024
    hop: int = 256

    def __post_init__(self) -> None:
        if self.n_fft < 16 or self.hop < 1 or self.n_fft % self.hop:
            raise ValueError(f"the networks' STFT needs n_fft >= 16 and a hop that divides it, "
                             f"got n_fft {self.n_fft}, hop {self.hop}")

    @property
    def bins(self) -> int:
        """``n_fft // 2 + 1`` frequency bins."""
        return self.n_fft // 2 + 1

    @property
    def delay(self) -> int:
        """Samples between a sample's arrival and its last frame: ``n_fft - hop``."""
        return self.n_fft - self.hop

    def frames(self, samples: int) -> int:
        """Frames of a signal of ``samples`` samples (the last ones zero-padded)."""
        return (self.delay + samples - 1) // self.hop + 1 if samples > 0 else 0

    def analyse(self, wave: Tensor) -> Tensor:
        """Complex frames ``(B, F, T)`` of ``wave`` ``(B, N)`` (:meth:`frames` of them)."""
        t = self.frames(wave.shape[-1])
        right = (t - 1) * self.hop + self.n_fft - self.delay - wave.shape[-1]
        padded = nn.functional.pad(wave, (self.delay, right))
        return self.transform(padded)

    def transform(self, padded: Tensor) -> Tensor:
        """Frames of already padded samples ``(B, L)``: ``(B, F, 1 + (L - n_fft) // hop)``."""
        window = hann_window(self.n_fft, padded.device, padded.dtype)
        return torch.stft(padded, self.n_fft, self.hop, window=window, center=False,
                          return_complex=True)

    def frame_samples(self, spec: Tensor) -> Tensor:
        """Windowed samples of each frame: complex ``(B, F, T)`` -> ``(B, n_fft, T)``."""
        window = hann_window(self.n_fft, spec.device, torch.float32)
        return torch.fft.irfft(spec, n=self.n_fft, dim=1) * window[:, None]

    def norm(self, device: torch.device) -> Tensor:
        """The windows' summed squares at each sample of a hop: ``(hop,)``."""
        w2 = hann_window(self.n_fft, device).square()
        return w2.reshape(-1, self.hop).sum(0)

    def synthesize(self, spec: Tensor, length: int) -> Tensor:
        """Samples ``(B, length)`` of complex frames ``(B, F, T)`` (overlap-add)."""
        frames = self.frame_samples(spec)  # (B, n_fft, T)
        t = frames.shape[-1]
        total = (t - 1) * self.hop + self.n_fft
        out = nn.functional.fold(frames, (1, total), (1, self.n_fft), stride=(1, self.hop))
        out = out.reshape(frames.shape[0], total)
        out = out[:, self.delay:self.delay + length]
        reps = math.ceil(out.shape[-1] / self.hop)
        return out / self.norm(out.device).repeat(reps)[:out.shape[-1]]


class CausalConv(nn.Conv1d):
    """A 1-D convolution over frames padded on the past only: output frame ``t`` reads input
    frames ``t - (k - 1) * dilation .. t``."""

    def __init__(self, cin: int, cout: int, kernel: int = 1, dilation: int = 1) -> None:
        super().__init__(cin, cout, kernel, dilation=dilation)

    @property
    def past(self) -> int:
        """Input frames before the current one that an output frame reads."""
        return (self.kernel_size[0] - 1) * self.dilation[0]

    def forward(self, x: Tensor) -> Tensor:  # (B, C, T) -> (B, C', T)
        return super().forward(nn.functional.pad(x, (self.past, 0)))

    def stream(self, x: Tensor, state: Optional[Tensor]) -> tuple[Tensor, Tensor]:
        """New frames ``(B, C, t)`` after the ``past`` frames ``state`` (None: zeros, as
        ``forward`` pads); returns ``(B, C', t)`` and the next state."""
        if state is None:
            state = x.new_zeros(x.shape[0], x.shape[1], self.past)
        joined = torch.cat([state, x], dim=-1)
        return super().forward(joined), joined[..., joined.shape[-1] - self.past:]


class FrameNorm(nn.Module):
    """Layer norm over the channels of each frame, ``(B, C, T)`` (streamable)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(channels)

    def forward(self, x: Tensor) -> Tensor:
        return self.norm(x.transpose(1, 2)).transpose(1, 2)


class Block(nn.Module):
    """``x + conv1x1(gelu(causal_conv_k(gelu(norm(x)))))``, with a dilation."""

    def __init__(self, channels: int, kernel: int, dilation: int) -> None:
        super().__init__()
        self.norm = FrameNorm(channels)
        self.conv = CausalConv(channels, channels, kernel, dilation)
        self.mix = CausalConv(channels, channels, 1)

    def forward(self, x: Tensor) -> Tensor:  # (B, C, T) -> (B, C, T)
        act = nn.functional.gelu
        return x + self.mix(act(self.conv(act(self.norm(x)))))

    def stream(self, x: Tensor, state: Optional[Tensor]) -> tuple[Tensor, Tensor]:
        act = nn.functional.gelu
        h, state = self.conv.stream(act(self.norm(x)), state)
        return x + self.mix(act(h)), state


@dataclass(frozen=True)
class NetworkConfig:
    """The architecture of an audio network (stored in model files)."""

    n_fft: int = 1024  # the networks' STFT (not the loss's): latency n_fft - hop + block
    hop: int = 256
    channels: int = 128  # width of every block
    blocks: int = 6  # residual blocks, dilations 1, 2, 4, ... (receptive field 2^blocks frames)
    kernel: int = 3  # frames per convolution
    noise_channels: int = 32  # texture: noise channels per frame
    level_frames: int = 0  # stylise: time constant of the input's running level (0: none)
    noise_input: int = 0  # stylise: channels of frame-indexed noise beside the content (0: none)
    noise_part: int = 0  # stylise: 1 adds a filtered-noise part to the output (0: none)
    envelope: int = 0  # stylise: 1 gives each output frame the RMS of the content frame (0: no)

    def check(self) -> "NetworkConfig":
        """Itself, or ``ValueError`` naming the bad setting."""
        FrameCodec(self.n_fft, self.hop)
        for name in ("channels", "blocks", "kernel", "noise_channels"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if int(self.noise_input) < 0:
            raise ValueError(f"noise_input must be >= 0, got {self.noise_input}")
        if self.envelope not in (0, 1):
            raise ValueError(f"envelope must be 0 or 1, got {self.envelope}")
        if self.noise_part not in (0, 1):
            raise ValueError(f"noise_part must be 0 or 1, got {self.noise_part}")
        if not 0 <= self.level_frames <= MAX_LEVEL_FRAMES:
            raise ValueError(f"level_frames must be 0 to {MAX_LEVEL_FRAMES}, got "
                             f"{self.level_frames}")
        if self.blocks > 14:
            raise ValueError(f"blocks must be at most 14, got {self.blocks}")
        return self


class Streamable(nn.Module):
    """The body both networks share: ``input conv -> blocks -> output conv`` over frames."""

    def __init__(self, cin: int, cout: int, config: NetworkConfig) -> None:
        super().__init__()
        self.config = config.check()
        self.codec = FrameCodec(config.n_fft, config.hop)
        c = config.channels
        self.inp = CausalConv(cin, c, config.kernel)
        self.blocks = nn.ModuleList(Block(c, config.kernel, 2 ** i) for i in range(config.blocks))
        self.out_norm = FrameNorm(c)
        self.out = CausalConv(c, cout, 1)

    @property
    def receptive_frames(self) -> int:
        """Frames an output frame reads, itself included (all in the past)."""
        return 1 + self.inp.past + sum(b.conv.past for b in self.blocks)

    def body(self, x: Tensor) -> Tensor:  # (B, cin, T) -> (B, cout, T)
        h = self.inp(x)
        for block in self.blocks:
            h = block(h)
        return self.out(nn.functional.gelu(self.out_norm(h)))

    def body_stream(self, x: Tensor, states: Optional[list[Tensor]]
                    ) -> tuple[Tensor, list[Tensor]]:
        """:meth:`body` of new frames after the frames that ``states`` (None: the start)
        summarises; returns the output frames and the next states."""
        states = states or [None] * (1 + len(self.blocks))  # type: ignore[list-item]
        h, first = self.inp.stream(x, states[0])
        new = [first]
        for block, state in zip(self.blocks, states[1:]):
            h, s = block.stream(h, state)
            new.append(s)
        return self.out(nn.functional.gelu(self.out_norm(h))), new


GEN_OFFSET = 6.0  # a new partial starts at log1p magnitude softplus(-6) = 0.0025: silent


class AudioTransformNet(Streamable):
    """Stylise: the content's log magnitude frames ``(B, F, T)`` -> ``(B, 3F, T)``: the log
    magnitude kept on the content's phase (a residual on the content's), and a generated part,
    its log magnitude and its phase advance (see :func:`~.render.frames_of`).

    With ``config.level_frames`` the content is first brought to the RMS in the buffer
    ``level`` (the style's, set by the trainer) by its causal running level
    (:func:`~.render.level_gains`), so the network never has to learn the level a user records
    at; the result is written at the level the network chose, as the optimisation's
    ``level="optimised"`` writes the optimiser's. With ``config.envelope`` each result frame
    is written at the RMS of the (levelled) content frame instead
    (:func:`~.render.envelope_gains`): the network chooses what a frame holds, not how loud it
    is.
    """

    mode = "stylize"

    def __init__(self, config: NetworkConfig = NetworkConfig()) -> None:
        bins = FrameCodec(config.n_fft, config.hop).bins
        super().__init__(bins + config.noise_input, (3 + config.noise_part) * bins, config)
        nn.init.zeros_(self.out.weight)  # at the start: the content, nothing generated
        nn.init.zeros_(self.out.bias)
        if config.level_frames:
            self.register_buffer("level", torch.tensor(LEVEL_RMS))

    def forward(self, log_mag: Tensor) -> Tensor:
        return self.body(log_mag)

    def stream(self, log_mag: Tensor, states: Optional[list[Tensor]] = None
               ) -> tuple[Tensor, list[Tensor]]:
        """:meth:`forward` of new frames, block by block (see :meth:`body_stream`)."""
        return self.body_stream(log_mag, states)


class AudioTextureNet(Streamable):
    """Texture: noise frames ``(B, noise_channels, T)`` -> ``(B, 2F, T)``: the log magnitude
    and the phase advance of each bin (see :func:`~.render.frames_of`)."""

    mode = "texture"

    def __init__(self, config: NetworkConfig = NetworkConfig()) -> None:
        bins = FrameCodec(config.n_fft, config.hop).bins
        super().__init__(config.noise_channels, 2 * bins, config)
        nn.init.zeros_(self.out.bias)  # a bias would be the same frame every hop: a buzz

    def forward(self, noise: Tensor) -> Tensor:
        return self.body(noise)

    def stream(self, noise: Tensor, states: Optional[list[Tensor]] = None
               ) -> tuple[Tensor, list[Tensor]]:
        """:meth:`forward` of new noise frames (see :meth:`body_stream`)."""
        return self.body_stream(noise, states)

    def noise_shape(self, batch: int, frames: int) -> tuple[int, int, int]:
        """The noise of ``frames`` frames: ``(batch, noise_channels, frames)``."""
        return (batch, self.config.noise_channels, frames)


def build_network(arch: str, config: Mapping[str, Any]) -> Streamable:
    """The one way a network is made: for training and from a model file."""
    if arch not in ARCHS:
        raise ValueError(f"arch must be one of {', '.join(ARCHS)}, got {arch!r}")
    unknown = set(config) - set(NetworkConfig.__dataclass_fields__)
    if unknown:
        raise ValueError(f"unknown network settings: {', '.join(sorted(unknown))}")
    cfg = NetworkConfig(**{k: int(v) for k, v in config.items()})
    return AudioTransformNet(cfg) if arch == "transform" else AudioTextureNet(cfg)


def network_settings(net: Streamable) -> dict[str, int]:
    """The settings :func:`build_network` rebuilds ``net`` from."""
    return asdict(net.config)


__all__ = ["ARCHS", "AudioTextureNet", "AudioTransformNet", "CausalConv", "FrameCodec",
           "FrameNorm", "GEN_OFFSET", "LEVEL_RMS", "LOG_MAX", "MAX_LEVEL_FRAMES", "NetworkConfig",
           "Streamable", "build_network", "network_settings"]
