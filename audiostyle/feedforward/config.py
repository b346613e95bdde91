"""The settings of an audio training run (:class:`AudioTrainConfig`), its presets and rules.

The loss is the optimisation's (:meth:`AudioTrainConfig.loss_config`: the random network of
the same seed, widths and filter count, the same front end and weights), so the network's loss
on a clip compares directly with the optimiser's final loss on it. The presets
(:data:`TRAIN_PRESETS`) size the run: ``quick`` for 2 CPU cores, ``full`` for a GPU
(``docs/feedforward-audio.md`` has their measured times).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Optional

from shared.checkpoints import check_resumable as shared_check

from ..config import AudioStyleConfig
from ..presets import preset_config
from .networks import NetworkConfig

MODES = ("stylize", "texture")
TRAIN_PRESETS: dict[str, dict[str, Any]] = {
    # 2 CPU cores: 3 s crops; a 128-channel network of 6 blocks. A stylisation takes 8 crops a
    # step for 800 steps, each step's loss over 1024 of the loss network's 4096 filters
    # (AudioTrainConfig.loss_filters): in the time of 800 steps of 2 crops over every filter
    # it closed 0.04-0.11 more of the benchmark clips' gaps, and the same as 2500 such steps
    # within 0.01 (docs/results/2026-12-08-adhoc-ff-filter-subsets.md). A texture takes 2
    # crops a step over every filter for 4500 steps: two training seeds came from 0.31-0.35 of
    # held-out distance at 2000 steps to 0.21 at 4500 (docs/results/2026-12-08-adhoc-ff-bf16.md).
    # 256 channels led at 800 steps and not at 2500 (docs/results/2026-12-02-adhoc-ff-training.md),
    # so the network of a third of the parameters stays. A texture network has 256: on the
    # examples' music the 128-channel one ended 1.56x further from the style than the fast
    # preset's texture, the 256-channel one 1.23x, in the same time
    # (docs/results/2026-12-06-adhoc-ff-texture-width.md).
    "quick": dict(crop_seconds=3.0, batch_size=8, steps=800, loss_filters=1024, channels=128,
                  blocks=6, texture_batch_size=2, texture_steps=4500, texture_loss_filters=0,
                  texture_channels=256),
    # One GPU: 6 s crops, 8 a step over every filter, a 256-channel network of 8 blocks.
    "full": dict(crop_seconds=6.0, batch_size=8, steps=20000, loss_filters=0, channels=256,
                 blocks=8, texture_batch_size=8, texture_steps=10000, texture_loss_filters=0,
                 texture_channels=256),
}
# How a crop is scored (AudioTrainConfig.warmup, level_weight), per mode
TEXTURE_SCORING: dict[str, float] = dict(warmup=2.0, level_weight=1e4)
STYLIZE_SCORING: dict[str, float] = dict(warmup=0.0, level_weight=1e4)
# Settings a resumed run may change; every other one must match the checkpoint's.
RESUMABLE_CHANGES = frozenset({"steps", "checkpoint_every", "workers", "device", "quiet", "out",
                               "checkpoint", "log_every", "precision"})
PRECISIONS = ("auto", "fp32", "bf16")  # AudioTrainConfig.precision
NETWORK_FIELDS = tuple(f for f in NetworkConfig.__dataclass_fields__ if f != "level_frames")


@dataclass
class AudioTrainConfig:
    """Everything that defines an audio training run (stored in checkpoints and model files)."""

    styles: list[str]  # style recordings (several are blended with equal weights)
    out: str  # model file written at every checkpoint and at the end
    mode: str = "stylize"  # "stylize" (content + style) or "texture" (noise to the style)
    dataset: Optional[str] = None  # folder of content recordings, searched recursively
    preset: str = "quick"  # sizes of TRAIN_PRESETS, unless set here
    sample_rate: int = 22050  # working rate (the optimisation's)
    crop_seconds: Optional[float] = None  # length of each training crop
    batch_size: Optional[int] = None  # crops per step per process
    steps: Optional[int] = None  # optimiser steps in total
    lr: float = 1e-3  # Adam's learning rate
    gain_db: tuple[float, float] = (-18.0, 0.0)  # random gain of each crop, in dB
    content_weight: float = 1e-2  # the optimisation's alpha
    autocorr_weight: float = 0.0  # the rhythm term of Antognini et al. (0: none)
    filters: int = 4096  # the loss network's filters per width (the optimisation's)
    # the filters each step's loss reads (the preset's unless set): a random subset of that
    # many (0: all), the Gram term
    # scaled by (filters / n)^2 and the content term by filters / n, so that a step estimates
    # the whole network's objective (its off-diagonal Gram sum without bias) at a fraction of
    # its cost: the loss network takes about 90 % of a step. A departure from Ulyanov &
    # Lebedev, whose objective the optimisation keeps. The time it saves buys crops: with 1024
    # of the 4096, 8 crops a step for 800 steps took the time of 800 full steps of 2 and
    # closed 0.04-0.11 more of every benchmark clip's gap
    # (docs/results/2026-12-08-adhoc-ff-filter-subsets.md)
    loss_filters: Optional[int] = None
    kernel_widths: tuple[int, ...] = (11,)  # the loss network's widths (the optimisation's)
    loss_n_fft: int = 2048  # the loss's STFT (the optimisation's front end)
    loss_hop: int = 512
    n_fft: int = 1024  # the network's STFT: latency n_fft - hop plus one block
    hop: int = 256
    channels: Optional[int] = None  # network width
    blocks: Optional[int] = None  # residual blocks (receptive field 2^blocks frames)
    kernel: int = 3
    noise_channels: int = 32  # texture: noise channels per frame
    # stylise: channels of frame-indexed noise beside the content, and (1) a filtered-noise part
    # in the output; Ulyanov et al.'s texture networks feed noise beside the content, Johnson et
    # al.'s none. Without them a quick model closed 0.20 of a guitar's held-out gap at 1000
    # steps, with them 0.49 (docs/results/2026-12-07-adhoc-ff-noise.md)
    noise_input: int = 16
    noise_part: int = 1
    # stylise: 1 writes each frame at the RMS of the content frame the network heard (a
    # departure from Ulyanov & Lebedev; why: render.envelope_gains)
    envelope: int = 1
    level_seconds: float = 3.0  # stylise: time constant of the input's running level (0: none)
    # texture: each crop follows a random 0 to `warmup` receptive fields of unscored frames, so
    # the loss sees the steady state that most of a long sample is (from a zero start, half of
    # a 3 s crop is the network's start, and a sample's steady state was 2-3x quieter than its
    # first 1.5 s). Both modes: each crop is scored at one level (texture: the style's RMS;
    # stylise: the RMS of the levelled content the network heard), with `level_weight` times
    # ln(rms / that)^2 holding the written level there (0: scored as written). The objective
    # of log1p|X| is not scale-invariant: scored as written, texture networks learnt a
    # quieter, denser sound than the style's, and a stylisation filled the pauses of speech
    # and wrote it quieter, its loss falling while the held-out gap closed fell from 0.63 to
    # 0.49 (docs/results/2026-12-07-adhoc-ff-texture-level.md and -stylize-level.md)
    warmup: Optional[float] = None  # texture: 2.0 (stylise: 0, the only value)
    level_weight: Optional[float] = None  # texture and stylise: 1e4
    checkpoint: Optional[str] = None  # default: OUT + ".ckpt"
    checkpoint_every: int = 100  # steps between checkpoints (0: only at the end)
    seed: int = 0  # the loss network's seed, the initial weights, data order, crops, noise
    device: str = "auto"
    # the loss network's arithmetic: bf16 (its weights and the spectrograms in bfloat16, the
    # features back in float32; on CUDA, bf16 autocast over the whole step) or fp32; auto:
    # bf16 where it is native (CUDA, or a CPU with AVX512-BF16 or AMX), else fp32. Ulyanov &
    # Lebedev's objective is float32: a departure, for speed (the convolution 5.9x faster on an
    # AMX Xeon, docs/results/2026-12-08-bench_audio_train_step.md). Unlike the optimisation,
    # which moves one variable by small steps and so needs its float32 anchor, each step here
    # scores new crops; a feature is off by about 0.3 %
    precision: str = "auto"
    workers: int = 0  # data-loader worker processes
    quiet: bool = False
    log_every: int = 10
    resume: bool = False

    def resolved(self) -> "AudioTrainConfig":
        """A copy with the preset's sizes filled in and every value checked (``ValueError``
        naming the setting)."""
        if self.preset not in TRAIN_PRESETS:
            raise ValueError(f"preset must be one of {', '.join(TRAIN_PRESETS)}, got "
                             f"{self.preset!r}")
        sizes = dict(TRAIN_PRESETS[self.preset])
        texture = {k: sizes.pop(f"texture_{k}")
                   for k in ("steps", "channels", "batch_size", "loss_filters")}
        if self.mode == "texture":
            sizes.update(texture, **TEXTURE_SCORING)
        else:
            sizes.update(STYLIZE_SCORING)
        if self.loss_filters is None:  # the preset's subset, of at most every filter
            sizes["loss_filters"] = min(int(sizes["loss_filters"]), int(self.filters))
        c = dataclasses.replace(self, **{k: v for k, v in sizes.items()
                                         if getattr(self, k) is None})
        c.styles = [str(s) for s in c.styles]
        c.gain_db = tuple(float(g) for g in c.gain_db)  # type: ignore[assignment]
        c.kernel_widths = tuple(int(k) for k in c.kernel_widths)
        c.checkpoint = c.checkpoint or f"{c.out}.ckpt"
        _check(c)
        c.network_config()
        c.loss_config()
        return c

    def network_config(self) -> NetworkConfig:
        """The network's architecture (checked)."""
        level = 0  # a texture network has no input level; 0 s: none
        if self.mode == "stylize" and self.level_seconds > 0:
            level = max(1, round(self.level_seconds * self.sample_rate / self.hop))
        sizes = {k: int(getattr(self, k)) for k in NETWORK_FIELDS}
        if self.mode == "texture":  # noise is all a texture network reads and writes
            sizes.update(noise_input=0, noise_part=0, envelope=0)
        return NetworkConfig(**sizes, level_frames=level).check()

    def loss_config(self) -> AudioStyleConfig:
        """The optimisation's config whose objective the network is trained on."""
        mode = "transfer" if self.mode == "stylize" else "texture"
        return preset_config("default", mode, filters=self.filters,
                             kernel_widths=self.kernel_widths, seed=self.seed,
                             sample_rate=self.sample_rate, n_fft=self.loss_n_fft,
                             hop=self.loss_hop, content_weight=self.content_weight,
                             autocorr_weight=self.autocorr_weight)

    @property
    def crop_samples(self) -> int:
        """Samples of each training crop."""
        return int(round(float(self.crop_seconds) * self.sample_rate))  # type: ignore[arg-type]


def _check(c: AudioTrainConfig) -> None:
    if c.mode not in MODES:
        raise ValueError(f"mode must be stylize or texture, got {c.mode!r}")
    if not c.styles:
        raise ValueError("styles is empty: give at least one style recording")
    if c.mode == "stylize" and not c.dataset:
        raise ValueError("mode stylize learns from content recordings: give dataset, a folder "
                         "of audio files")
    for name in ("batch_size", "steps", "sample_rate", "filters"):
        if int(getattr(c, name)) < 1:
            raise ValueError(f"{name} must be >= 1, got {getattr(c, name)}")
    if not 0 <= int(c.loss_filters) <= int(c.filters):
        raise ValueError(f"loss_filters must be 0 (all) to filters ({c.filters}), got "
                         f"{c.loss_filters}")
    if c.loss_filters and c.autocorr_weight:
        raise ValueError("loss_filters samples the Gram and content terms only; use it with "
                         "autocorr_weight 0")
    if c.precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got "
                         f"{c.precision!r}")
    for name in ("checkpoint_every", "workers", "log_every"):
        if int(getattr(c, name)) < 0:
            raise ValueError(f"{name} must be >= 0, got {getattr(c, name)}")
    if not (c.level_seconds >= 0 and math.isfinite(c.level_seconds)):
        raise ValueError(f"level_seconds must be finite and >= 0, got {c.level_seconds}")
    if not (c.lr > 0 and math.isfinite(c.lr)):
        raise ValueError(f"lr must be positive, got {c.lr}")
    for name in ("content_weight", "autocorr_weight", "warmup", "level_weight"):
        v = getattr(c, name)
        if not (v >= 0 and math.isfinite(v)):
            raise ValueError(f"{name} must be finite and >= 0, got {v}")
    if c.mode == "stylize" and c.warmup:
        raise ValueError("warmup scores texture crops; a stylize run has none")
    if len(c.gain_db) != 2 or not c.gain_db[0] <= c.gain_db[1] <= 20:
        raise ValueError(f"gain_db must be (low, high) with low <= high <= 20, got {c.gain_db}")
    shortest = (max(c.kernel_widths) - 1) * c.loss_hop
    if not (c.crop_seconds and c.crop_samples > shortest):  # type: ignore[operator]
        raise ValueError(f"crop_seconds must be longer than the loss network's field "
                         f"({shortest / c.sample_rate:.2f} s), got {c.crop_seconds}")


def check_resumable(saved: dict[str, Any], current: AudioTrainConfig, path: Path) -> None:
    """Refuse to resume when a setting that shapes training differs from the checkpoint's."""
    now = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(current).items()}
    before = {k: list(v) if isinstance(v, tuple) else v for k, v in saved.items()}
    for name in ("noise_input", "noise_part", "envelope", "warmup", "level_weight",
                 "loss_filters"):
        before.setdefault(name, 0)  # a run from before them had none
    shared_check(before, now, path, RESUMABLE_CHANGES)


__all__ = ["AudioTrainConfig", "MODES", "PRECISIONS", "RESUMABLE_CHANGES", "STYLIZE_SCORING",
           "TEXTURE_SCORING", "TRAIN_PRESETS", "check_resumable"]
