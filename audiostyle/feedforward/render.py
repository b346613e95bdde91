"""Samples in, samples out: the networks applied to whole clips and to a live stream.

:func:`stylize_samples` (whole clips, the training's forward too) and :class:`Streamer`
(fixed blocks as a live input delivers them) compute the same thing: a block's frames are
transformed once they are complete, the convolutions carry their past from block to block, and
overlap-add releases each sample once its last frame is in. The streamed output equals the
whole-clip output (``tests/audiostyle/test_feedforward.py``), ``latency(block)`` samples late.
Both end with :func:`audiostyle.dsp.soft_limit`, sample by sample, as the waveform domain
writes its samples.

A transform network with ``level_frames`` hears its content at one level: each frame is
scaled by :func:`level_gains`, from the mean square of the samples up to that frame
(exponentially weighted, time constant ``level_frames``), so the gain, too, is causal and
streams. Ulyanov & Lebedev's optimisation has no such step (it starts from the content at
its own level and is free to move it); a network must answer every level with the same
weights, and without it one model closed 0.21 of the held-out gap on a guitar and 0.40 on the
same guitar 12 dB quieter (``docs/feedforward-audio.md``).
"""

from __future__ import annotations

import math
from typing import Optional

import torch
from torch import Tensor

from ..dsp import soft_limit
from .networks import GEN_OFFSET, LOG_MAX, AudioTextureNet, AudioTransformNet, FrameCodec

TINY = 1e-8  # below this magnitude a content bin has no phase to keep
MAX_GAIN = 100.0  # the levelling raises a quiet input by at most 40 dB: silence stays silence
LEVEL_SPAN = 4  # the running level's weights reach back 4 time constants (e^-4 at the end)


def hop_power(wave: Tensor, hop: int, frames: int) -> Tensor:
    """The mean square of each frame's newest hop of samples: ``(B, N)`` -> ``(B, frames)``
    float64 (frame ``m``'s newest hop is ``wave[m * hop:(m + 1) * hop]``, zeros past the end)."""
    need = frames * hop
    part = wave[:, :need].double()
    part = torch.nn.functional.pad(part, (0, need - part.shape[-1]))
    return part.reshape(wave.shape[0], frames, hop).square().mean(-1)


def level_gains(net: AudioTransformNet, power: Tensor, past: Optional[Tensor] = None
                ) -> tuple[Tensor, Tensor]:
    """Each frame's gain to the network's level, and the state for the frames that follow.

    ``power`` ``(B, T)``: :func:`hop_power` of new frames; ``past`` ``(B, 2, K - 1)``: the
    powers and the ones of the frames before (None: the start, when there were none), ``K``
    the weights' span. The level of frame ``t`` is ``sqrt(sum_s a^s p[t - s] / sum_s a^s)``
    over the frames there were (``a = exp(-1 / level_frames)``, ``s < K``); the gain is
    ``net.level`` over it, at most :data:`MAX_GAIN`. Returns gains ``(B, 1, T)`` float32 and
    the next ``past``.
    """
    tau = net.config.level_frames
    span = LEVEL_SPAN * tau
    if past is None:
        past = power.new_zeros(power.shape[0], 2, span - 1)
    joined = torch.cat([past, torch.stack([power, torch.ones_like(power)], 1)], -1)
    weights = torch.exp(-torch.arange(span - 1, -1, -1, dtype=torch.float64,
                                      device=power.device) / tau)
    sums = torch.nn.functional.conv1d(joined.reshape(-1, 1, joined.shape[-1]),
                                      weights.reshape(1, 1, -1)).reshape(power.shape[0], 2, -1)
    level = (sums[:, 0] / sums[:, 1]).sqrt()  # (B, T)
    target = net.level.double()
    gains = target / level.clamp_min(target / MAX_GAIN)
    return gains[:, None].float(), joined[..., joined.shape[-1] - (span - 1):]


def levelled(net: AudioTransformNet, spec: Tensor, power: Tensor,
             past: Optional[Tensor] = None) -> tuple[Tensor, Optional[Tensor]]:
    """The content's frames ``(B, F, T)`` as the network hears them (see :func:`level_gains`;
    unchanged without ``level_frames``), and the levelling's next state."""
    if not net.config.level_frames:
        return spec, None
    gains, past = level_gains(net, power, past)
    return spec * gains, past


def levelled_samples(net: AudioTransformNet, wave: Tensor) -> Tensor:
    """The content ``(B, N)`` at the level the network hears it: ``(B, N)`` (the content target
    of training)."""
    codec = net.codec
    if not net.config.level_frames:
        return wave
    spec = codec.analyse(wave)
    spec = levelled(net, spec, hop_power(wave, codec.hop, spec.shape[-1]))[0]
    return codec.synthesize(spec, wave.shape[-1])


def with_phase(log_mag: Tensor, like: Tensor, size: Optional[Tensor] = None) -> Tensor:
    """Magnitudes ``expm1(log_mag)`` ``(B, F, T)`` with the phase of complex ``like`` (whose
    magnitude ``size`` may be given); where ``|like|`` is under :data:`TINY` the result fades
    to 0 with it (no phase to keep)."""
    size = like.abs() if size is None else size
    return like * (torch.expm1(log_mag.float()) / size.clamp_min(TINY))


MASK32 = 0xFFFFFFFF


def _mix32(x: Tensor) -> Tensor:
    """An integer hash of int64 values in ``[0, 2^32)`` (xor-shift-multiply, products kept
    under 2^63): the same value for the same input on every device and in every block."""
    x = ((x ^ (x >> 16)) * 0x7FEB352D) & MASK32
    x = ((x ^ (x >> 15)) * 0x2C1B3C6D) & MASK32
    return x ^ (x >> 16)


def frame_uniform(first: Tensor | int, frames: int, channels: int, salt: int,
                  device: torch.device | str = "cpu") -> Tensor:
    """Uniform values in (0, 1), float64 ``(B, channels, frames)`` (``B``: the length of
    ``first``, 1 for an int), a function of the absolute frame index ``first + t``, the
    channel and ``salt`` alone: a stream's blocks draw what the whole clip draws."""
    first = torch.as_tensor(first, dtype=torch.int64, device=device).reshape(-1, 1, 1)
    t = first + torch.arange(frames, dtype=torch.int64, device=device)[None, None]
    k = torch.arange(channels, dtype=torch.int64, device=device)[None, :, None]
    h = _mix32(((t & MASK32) ^ (salt * 0x9E3779B1 & MASK32)))
    h = _mix32((h + k * 0x9E3779B1) & MASK32)
    return (h.double() + 0.5) / 2.0 ** 32


def frame_noise(first: Tensor | int, frames: int, channels: int,
                device: torch.device | str = "cpu") -> Tensor:
    """Standard normal noise ``(B, channels, frames)`` float32 indexed by the absolute frame
    (Box-Muller of two :func:`frame_uniform` draws): a transform network's ``noise_input``."""
    u1 = frame_uniform(first, frames, channels, 1, device)
    u2 = frame_uniform(first, frames, channels, 2, device)
    return (torch.sqrt(-2.0 * torch.log(u1)) * torch.cos(2 * math.pi * u2)).float()


def frames_of(raw: Tensor, codec: FrameCodec, content: Optional[Tensor] = None,
              phase: Optional[Tensor] = None, first: Tensor | int = 0, envelope: bool = False
              ) -> tuple[Tensor, Tensor]:
    """The complex frames a network's output ``raw`` describes, and the generated part's phase
    after the last frame (to continue from: ``phase``, ``(B, F)`` float64; None: the start).

    ``raw`` is ``(B, 3F, T)`` or ``(B, 4F, T)`` with ``content`` (complex ``(B, F, T)``, a
    transform network's) and ``(B, 2F, T)`` without (a texture network's). The frames are
    ``expm1(clamp(log1p|X| + r)) * X / |X|`` (the content, re-weighted by ``r``; a transform
    network only) plus ``expm1(softplus(g - c)) * exp(i phi)`` (``c``: :data:`GEN_OFFSET`
    beside a content, else 0) with ``phi_k(m) = phi_k(m - 1) + 2 pi k hop / n_fft + pi
    tanh(d_k(m))``: each bin's centre frequency, moved by up to half a bin a hop either way
    (``r, g, d``: the parts of ``raw``, in that order), plus, with a fourth part ``n``,
    filtered noise ``expm1(softplus(n - c)) * exp(2 pi i u)``, ``u`` uniform per bin and
    absolute frame (``first``: the index of ``raw``'s first frame, one per batch item or
    one for all). The partials start at Schroeder's phases ``pi k^2 / F``: from one common
    phase every bin's partial would peak together, a click each ``n_fft`` samples. With
    ``envelope`` (a transform network's) each frame of that sum is then scaled to the content
    frame's RMS (:func:`envelope_gains`).
    """
    bins, raw = codec.bins, raw.float()
    parts = raw.split(bins, dim=1)
    gen_log, dev = (parts[1], parts[2]) if content is not None else (parts[0], parts[1])
    k = torch.arange(bins, device=raw.device, dtype=torch.float64)[:, None]
    advance = 2 * math.pi * k * codec.hop / codec.n_fft + math.pi * torch.tanh(dev).double()
    if phase is None:  # Schroeder's phases: the bins' partials start without a common peak
        start = (math.pi * k[:, 0] ** 2 / bins).expand(raw.shape[0], bins)
    else:
        start = phase
    phi = torch.remainder(start[..., None] + advance.cumsum(-1), 2 * math.pi)  # (B, F, T)
    offset = GEN_OFFSET if content is not None else 0.0  # a texture starts audible
    mag = torch.expm1(torch.nn.functional.softplus(gen_log - offset).clamp_max(LOG_MAX))
    frames = torch.polar(mag, phi.float())
    if content is not None:
        size = content.abs()
        kept = (torch.log1p(size) + parts[0]).clamp(0.0, LOG_MAX)
        frames = frames + with_phase(kept, content, size)
        if len(parts) == 4:  # filtered noise: a magnitude per bin, a random phase
            u = frame_uniform(first, raw.shape[-1], bins, 3, raw.device)
            noise = torch.expm1(torch.nn.functional.softplus(parts[3] - offset)
                                .clamp_max(LOG_MAX))
            frames = frames + torch.polar(noise, (2 * math.pi * u).float())
        if envelope:  # each frame at the content frame's RMS (see envelope_gains)
            frames = frames * envelope_gains(frames, content)
    return frames, (phi[..., -1] if phi.shape[-1] else start)


def envelope_gains(frames: Tensor, content: Tensor) -> Tensor:
    """Each frame's gain ``(B, 1, T)`` to the content frame's RMS magnitude: complex
    ``frames`` and ``content`` ``(B, F, T)`` -> ``rms_k |content| / rms_k |frames|`` (a
    silent content frame: 0, a silent result frame: held finite).

    A transform network with ``envelope`` writes each frame at the loudness of the content
    frame it heard and chooses only what the frame holds. Not in Ulyanov & Lebedev, where the
    content term keeps the loudness: the network filled the pauses between words (0.36-0.39 of
    its energy in the content's quietest 30 % of frames, the optimisation's 0.07), through its
    own content path as much as through the generated parts
    (docs/results/2026-12-07-adhoc-ff-envelope.md).
    """
    result = frames.abs().square().mean(1, keepdim=True).add(1e-12).sqrt()
    return content.abs().square().mean(1, keepdim=True).sqrt() / result


def net_input(net: AudioTransformNet, spec: Tensor, first: Tensor | int = 0) -> Tensor:
    """What a transform network reads: ``log1p|X|`` of the (levelled) content's frames
    ``(B, F, T)``, and with ``noise_input`` the :func:`frame_noise` of those frames after it:
    ``(B, F + K, T)``."""
    log_mag = torch.log1p(spec.abs())
    k = net.config.noise_input
    if not k:
        return log_mag
    noise = frame_noise(first, spec.shape[-1], k, spec.device)
    return torch.cat([log_mag, noise.expand(spec.shape[0], -1, -1)], dim=1)


def stylize_frames(net: AudioTransformNet, spec: Tensor, power: Tensor,
                   forward: Optional[torch.nn.Module] = None, first: Tensor | int = 0
                   ) -> Tensor:
    """Complex frames ``(B, F, T)`` of a whole content (and its :func:`hop_power`) -> the
    result's; ``forward`` runs the network (a DistributedDataParallel wrapper of ``net``);
    ``first``: the absolute index of the first frame (the noise's; training draws it)."""
    spec = levelled(net, spec, power)[0]
    raw = (forward or net)(net_input(net, spec, first))
    return frames_of(raw, net.codec, spec, first=first, envelope=bool(net.config.envelope))[0]


# the convolutions', the generated phase's and the levelling's states (None: the start), and
# the frames done before
State = tuple[Optional[list[Tensor]], Optional[Tensor], Optional[Tensor], int]
START: State = (None, None, None, 0)


def stream_frames(net: AudioTransformNet, spec: Tensor, power: Tensor,
                  state: State) -> tuple[Tensor, State]:
    """:func:`stylize_frames` of the next frames ``(B, F, t)`` of a content, after those that
    ``state`` (:data:`START`: the beginning) summarises; returns the next state too."""
    spec, level = levelled(net, spec, power, state[2])
    raw, convs = net.stream(net_input(net, spec, state[3]), state[0])
    frames, phase = frames_of(raw, net.codec, spec, state[1], state[3],
                              bool(net.config.envelope))
    return frames, (convs, phase, level, state[3] + spec.shape[-1])


def stylize_samples(net: AudioTransformNet, wave: Tensor,
                    forward: Optional[torch.nn.Module] = None, first: Tensor | int = 0
                    ) -> Tensor:
    """The stylised samples of ``wave`` ``(B, N)``: ``(B, N)`` (differentiable; ``forward``,
    ``first``: as in :func:`stylize_frames`)."""
    codec = net.codec
    spec = codec.analyse(wave)
    frames = stylize_frames(net, spec, hop_power(wave, codec.hop, spec.shape[-1]), forward,
                            first)
    return soft_limit(codec.synthesize(frames, wave.shape[-1]))


def texture_noise(net: AudioTextureNet, frames: int, generator: torch.Generator,
                  batch: int = 1) -> Tensor:
    """Standard normal noise ``(batch, noise_channels, frames)``, drawn frame by frame (so a
    longer draw continues a shorter one of the same seed)."""
    n = net.config.noise_channels
    return torch.randn(batch, frames, n, generator=generator).transpose(1, 2).contiguous()


def texture_samples(net: AudioTextureNet, noise: Tensor, length: int,
                    forward: Optional[torch.nn.Module] = None) -> Tensor:
    """Samples ``(B, length)`` of noise frames ``(B, K, T)`` (differentiable; ``forward``: as
    in :func:`stylize_frames`)."""
    raw = (forward or net)(noise)
    return soft_limit(net.codec.synthesize(frames_of(raw, net.codec)[0], length))


def texture_stream(net: AudioTextureNet, noise: Tensor, state: State) -> tuple[Tensor, State]:
    """Complex frames of the next noise frames ``(B, K, t)``, and the next state."""
    raw, convs = net.stream(noise, state[0])
    frames, phase = frames_of(raw, net.codec, None, state[1])
    return frames, (convs, phase, None, state[3] + noise.shape[-1])


class OverlapAdd:
    """Overlap-add of frames as they come: :meth:`add` returns the samples they complete."""

    def __init__(self, codec: FrameCodec, channels: int, device: torch.device) -> None:
        self.codec = codec
        self.tail = torch.zeros(channels, codec.n_fft - codec.hop, device=device)
        self.norm = codec.norm(device)
        self.skip = codec.delay  # the leading padding's samples, not the signal's

    def add(self, spec: Tensor) -> Tensor:
        """Complex frames ``(C, F, t)`` -> the ``t * hop`` samples they complete (fewer at the
        start: the padding's are dropped), ``(C, n)``."""
        c = self.codec
        t = spec.shape[-1]
        if t == 0:
            return self.tail.new_zeros(self.tail.shape[0], 0)
        frames = c.frame_samples(spec)  # (C, n_fft, t)
        total = (t - 1) * c.hop + c.n_fft
        acc = torch.nn.functional.fold(frames, (1, total), (1, c.n_fft), stride=(1, c.hop))
        acc = acc.reshape(frames.shape[0], total)
        acc[:, :self.tail.shape[-1]] += self.tail
        done, self.tail = acc[:, :t * c.hop], acc[:, t * c.hop:].clone()
        done = done / self.norm.repeat(t)
        drop = min(self.skip, done.shape[-1])
        self.skip -= drop
        return done[:, drop:]


class Streamer:
    """Stylise a live input block by block: :meth:`push` blocks ``(C, n)`` of any sizes, get
    back the samples they complete; :meth:`finish` returns the rest. The concatenated output
    equals :func:`stylize_samples` of the concatenated input, the channels processed apart."""

    def __init__(self, net: AudioTransformNet, channels: int = 1) -> None:
        self.net, self.codec = net, net.codec
        device = next(net.parameters()).device
        self.pending = torch.zeros(channels, self.codec.delay, device=device)
        self.state: State = START
        self.ola = OverlapAdd(self.codec, channels, device)
        self.received = 0
        self.sent = 0

    def latency(self, block: int) -> int:
        """Samples from a sample's arrival to its release when blocks of ``block`` samples
        arrive: the frame's look-back ``n_fft - hop``, plus the block's own wait."""
        return self.codec.delay + block

    def push(self, block: Tensor) -> Tensor:
        """The next input samples ``(C, n)`` -> the output samples now complete ``(C, m)``."""
        self.received += block.shape[-1]
        return self._run(block)

    def _run(self, block: Tensor) -> Tensor:
        c = self.codec
        self.pending = torch.cat([self.pending, block.to(self.pending)], dim=-1)
        t = (self.pending.shape[-1] - c.n_fft) // c.hop + 1 if self.pending.shape[-1] >= c.n_fft else 0
        if t == 0:
            return self.pending.new_zeros(self.pending.shape[0], 0)
        spec = c.transform(self.pending[:, :(t - 1) * c.hop + c.n_fft])
        power = hop_power(self.pending[:, c.delay:], c.hop, t)  # each frame's newest hop
        self.pending = self.pending[:, t * c.hop:]
        with torch.inference_mode():
            out, self.state = stream_frames(self.net, spec, power, self.state)
            samples = self.ola.add(out)
        samples = samples[:, :max(0, self.received - self.sent)]
        self.sent += samples.shape[-1]
        return soft_limit(samples)

    def finish(self) -> Tensor:
        """The samples still owed: the end of the input, completed with silence."""
        c = self.codec
        frames_due = c.frames(self.received)
        consumed = self.received + c.delay - self.pending.shape[-1]  # padded samples framed
        need = (frames_due - 1) * c.hop + c.n_fft - consumed - self.pending.shape[-1]
        zeros = self.pending.new_zeros(self.pending.shape[0], max(0, need))
        return self._run(zeros)


__all__ = ["LEVEL_SPAN", "MAX_GAIN", "OverlapAdd", "START", "State", "Streamer", "frame_noise",
           "envelope_gains", "frame_uniform", "frames_of", "hop_power", "level_gains", "levelled",
           "levelled_samples", "net_input", "stream_frames", "stylize_frames", "stylize_samples",
           "texture_noise", "texture_samples", "texture_stream", "with_phase"]
