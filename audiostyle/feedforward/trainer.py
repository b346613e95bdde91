"""One audio training run and its step: :class:`AudioTrainer`, driven by
:func:`shared.training.fit`.

The loss of a step is the optimisation's objective (:func:`audiostyle.objective.build_objective`'s
terms: Ulyanov & Lebedev's Gram loss plus ``content_weight`` times the content features' squared
difference, summed; with ``autocorr_weight`` the rhythm term), taken of the written samples
through the waveform domain's differentiable STFT, per crop, and averaged over the batch: the
value the optimiser would report for that crop.

A crop departs from that in up to two ways (``AudioTrainConfig.warmup`` and
``level_weight``). Every crop is scored at one level, with a term holding the written level
there: a texture's at the style's RMS, a stylisation's at the RMS of the levelled content the
network heard. Scored as written, texture networks learnt a sound 2-3x quieter and denser than
the style's, and stylisation networks filled the pauses of speech and wrote it quieter: the
objective of ``log1p|X|`` (not scale-invariant) rewards that, and the held-out measures, at one
loudness, do not. A texture crop also follows unscored frames of the network's own, so the loss
sees the steady state that most of a long sample is, not the network's start from silence
(``docs/results/2026-12-07-adhoc-ff-texture-level.md``, ``-stylize-level.md``).

The loss network runs in bfloat16 where that is native (``AudioTrainConfig.precision``), with
the features and the Grams in float32.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import torch
from torch import Tensor

from shared import (StyleContentObjective, autocast, resolve_precision, retain_freed_memory,
                    seed_everything)
from shared.checkpoints import checkpoint_payload, restore_trainer, save_payload
from shared.memory import Estimate, check_fits
from shared.training import (DistInfo, ResumableSampler, batches_per_epoch, epoch_batches,
                             noise_generator, update)

from ..audio import load_audio
from ..dsp import resample, rms
from ..objective import WAVEFORM_EPS
from ..pipeline import build_networks
from ..rhythm import AUTOCORR_PREFIX, AutocorrObjective
from ..targets import StyleTargets
from .config import AudioTrainConfig
from .data import AudioCrops
from .modelfile import CHECKPOINT_FORMAT, VERSION, model_payload
from .networks import AudioTextureNet, AudioTransformNet, build_network
from .render import levelled_samples, stylize_samples, texture_noise, texture_samples


SUBSET_SEED = 1_000_003  # the loss filters of a step: seed (seed + 1) * this + step
FIRST_FRAMES = 1 << 24  # a crop's noise starts at a frame below this (13 h at the defaults)


def crop_first_frames(content: Tensor) -> Tensor:
    """Where each crop's noise starts (``noise_input``, ``noise_part``): ``(B, N)`` -> ``(B,)``
    int64 frames below :data:`FIRST_FRAMES`, a hash of the crop's first samples. So crops read
    different stretches of noise, and a crop reads the same one whatever process of a
    distributed run takes it (a draw from a rank's generator would not)."""
    head = (content[:, :256].detach().double() * 2.0 ** 20).round().long()
    weights = torch.arange(1, head.shape[-1] + 1, device=head.device)
    return torch.remainder((head * weights).sum(-1), FIRST_FRAMES)


def load_styles(paths: list[str], rate: int, min_samples: int) -> list[Tensor]:
    """The style recordings, mono at ``rate``: each ``(1, N)``."""
    waves = []
    for p in paths:
        clip = load_audio(p, mono=True)
        wave = resample(clip.samples, clip.sample_rate, rate)
        if wave.shape[-1] < min_samples:
            raise ValueError(f"{p}: the style is {clip.seconds:.3f} s long, shorter than the "
                             f"loss network's field of {min_samples / rate:.3f} s")
        waves.append(wave)
    return waves


class AudioTrainer:
    """The state of one audio training run (a resolved :class:`AudioTrainConfig`)."""

    def __init__(self, config: AudioTrainConfig, dist_info: DistInfo, device: torch.device,
                 log: Callable[[str], None]) -> None:
        self.c, self.dist, self.device, self.log = config, dist_info, device, log
        self.loss_config = config.loss_config()
        self.precision = resolve_precision(config.precision, device)
        retain_freed_memory()
        self.dataset = self.sampler = None
        self.per_epoch = 0
        if config.mode == "stylize":
            self._open_dataset()
        styles = load_styles(config.styles, config.sample_rate, self.loss_config.min_samples)
        self.style_rms = float(rms(torch.cat(styles, dim=-1)).mean())  # the styles' level
        self._check_memory()
        seed_everything(config.seed)
        arch = "transform" if config.mode == "stylize" else "texture"
        self.net = build_network(arch, asdict(config.network_config())).to(device)
        if isinstance(self.net, AudioTransformNet) and self.net.config.level_frames:
            with torch.no_grad():  # the content is heard at the style's level
                self.net.level.fill_(self.style_rms)
        self.bank = build_networks(self.loss_config, device)["spectrogram"]
        self.objective = self._objective(styles)
        self.train_net = self._parallel()
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=config.lr)
        self.total_steps = int(config.steps)  # type: ignore[arg-type]
        self.step = self.epoch = self.batch_in_epoch = 0

    # -- set-up --------------------------------------------------------------------------------
    def _open_dataset(self) -> None:
        c, info = self.c, self.dist
        self.dataset = AudioCrops(c.dataset, c.sample_rate, c.crop_samples,  # type: ignore[arg-type]
                                  c.gain_db, seed=c.seed, log=info.is_main and not c.quiet)
        self.per_epoch = batches_per_epoch(len(self.dataset), info.world_size,
                                           c.batch_size)  # type: ignore[arg-type]
        if self.per_epoch == 0:
            raise ValueError(f"dataset {c.dataset} has {len(self.dataset)} recordings, fewer "
                             f"than one batch of {c.batch_size} per process; lower batch_size")
        self.sampler = ResumableSampler(self.dataset, info.world_size, info.rank, c.seed)

    def _check_memory(self) -> None:
        """Refuse a run whose steps will not fit, before any: the loss network's features of
        a batch (kept for the backward pass) dominate."""
        c = self.c
        frames = c.crop_samples // c.loss_hop + 1
        floats = 6 * c.filters * frames * len(c.kernel_widths) + 4 * (c.loss_n_fft // 2 + 1) \
            * frames + 12 * int(c.channels) * (c.crop_samples // c.hop + 1)  # type: ignore[arg-type]
        estimate = Estimate()
        estimate.add("features", 4.0 * floats * int(c.batch_size),  # type: ignore[arg-type]
                     ("batch_size", "crop_seconds", "filters"))
        estimate.add("loss network", 4.0 * c.filters * (c.loss_n_fft // 2 + 1)
                     * sum(c.kernel_widths), ("filters",))
        check_fits(estimate, self.device, f"training with batch_size {c.batch_size}, "
                   f"crop_seconds {c.crop_seconds} and filters {c.filters}")

    def _objective(self, styles: list[Tensor]) -> StyleContentObjective:
        """The objective with the styles' Grams; content targets come with each batch."""
        lc = self.loss_config
        targets = StyleTargets(self.bank, styles, [1.0] * len(styles), lc).channel(0)
        grams = {k: v for k, v in targets.items() if not k.startswith(AUTOCORR_PREFIX)}
        lagged = {k[len(AUTOCORR_PREFIX):]: v for k, v in targets.items()
                  if k.startswith(AUTOCORR_PREFIX)}
        content = self.bank.layer_names if self.c.mode == "stylize" and \
            lc.objective.content_weight > 0 else []
        kwargs: dict[str, Any] = dict(content_weight=lc.objective.content_weight,
                                      style_weight=lc.objective.style_weight, reduction="sum",
                                      gram_normalize="positions", content_layers=content)
        if lagged:
            return AutocorrObjective({}, grams, autocorr_targets=lagged,
                                     autocorr_weight=lc.objective.autocorr_weight,
                                     **kwargs).to(self.device)
        return StyleContentObjective({}, grams, **kwargs).to(self.device)

    def _parallel(self) -> torch.nn.Module:
        if self.dist.world_size == 1:
            return self.net
        return torch.nn.parallel.DistributedDataParallel(
            self.net, device_ids=[self.device.index] if self.device.type == "cuda" else None)

    # -- checkpoints ---------------------------------------------------------------------------
    def settings(self) -> dict[str, Any]:
        """The run's settings as checkpoints and model files store them."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self.c).items()}

    def save(self) -> None:
        """Write the checkpoint and the model file (rank 0; atomic)."""
        if not self.dist.is_main:
            return
        model = model_payload(self.net, self.c.sample_rate, self.settings(), self.step)
        save_payload(checkpoint_payload(CHECKPOINT_FORMAT, VERSION, model, self.optimizer, self,
                                        self.settings()), self.c.checkpoint)  # type: ignore[arg-type]
        save_payload(model, self.c.out)

    def restore(self, data: dict[str, Any], path: Path) -> None:
        """Continue from a checkpoint read by :func:`~.modelfile.load_checkpoint`."""
        restore_trainer(self, data, path)

    # -- data and the step ---------------------------------------------------------------------
    def batches(self) -> Iterator[Optional[Tensor]]:
        """Content crops ``(B, N)`` forever (``None`` in texture mode)."""
        if self.dataset is None or self.sampler is None:
            while True:
                yield None
        yield from epoch_batches(self.dataset, self.sampler, self, int(self.c.batch_size),
                                 self.c.workers, self.device)  # type: ignore[arg-type]

    def output(self, content: Optional[Tensor]) -> Tensor:
        """The network's samples ``(B, N)`` for a content batch, or for this step's noise."""
        if content is not None:
            assert isinstance(self.net, AudioTransformNet)
            return stylize_samples(self.net, content, self.train_net, crop_first_frames(content))
        assert isinstance(self.net, AudioTextureNet)
        c, codec = self.c, self.net.codec
        gen = noise_generator(c.seed, self.dist.rank, self.step)
        skip = self.warmup_frames(gen) * codec.hop  # unscored samples before the crop
        noise = texture_noise(self.net, codec.frames(skip + c.crop_samples), gen,
                              int(c.batch_size)).to(self.device)  # type: ignore[arg-type]
        return texture_samples(self.net, noise, skip + c.crop_samples, self.train_net)[:, skip:]

    def warmup_frames(self, generator: torch.Generator) -> int:
        """This step's unscored frames before a texture crop: uniform in ``0 ..
        warmup * receptive field`` (none, and no draw, at ``warmup`` 0)."""
        warmup = float(self.c.warmup)  # type: ignore[arg-type]
        most = int(round(warmup * self.net.receptive_frames))
        if most == 0:
            return 0
        return int(torch.randint(0, most + 1, (1,), generator=generator))

    def at_level(self, out: Tensor, heard: Optional[Tensor]) -> tuple[Tensor, Optional[Tensor]]:
        """Crops ``(B, N)`` scaled to a reference level, and the level term ``level_weight *
        sum_b ln(rms_b / reference_b)^2``; ``(out, None)`` at ``level_weight`` 0. The
        reference is the styles' RMS for a texture, and the RMS of the levelled content the
        network heard (``heard``, ``(B, N)``) for a stylisation, floored 40 dB below the
        style's so that a silent crop asks for a quiet one, not for silence."""
        weight = float(self.c.level_weight or 0.0)
        if weight == 0.0:
            return out, None
        if heard is None:
            reference = out.new_full((out.shape[0], 1), self.style_rms)
        else:
            reference = rms(heard).reshape(-1, 1).clamp_min(0.01 * self.style_rms)
        level = out.square().mean(-1, keepdim=True).add(1e-12).sqrt()  # (B, 1)
        term = weight * torch.log(level / reference).square().sum()
        return out * (reference / level), term

    def filter_subset(self) -> Optional[Tensor]:
        """This step's loss filters (``loss_filters`` of them, sorted, a function of the seed
        and the step, the same on every process), or None for all."""
        n, m = self.bank.filters, int(self.c.loss_filters)
        if m == 0 or m >= n:
            return None
        g = torch.Generator().manual_seed(SUBSET_SEED * (int(self.c.seed) + 1) + self.step)
        return torch.randperm(n, generator=g)[:m].sort().values.to(self.device)

    def features(self, spec: Tensor, chosen: Optional[Tensor]) -> dict[str, Tensor]:
        """The loss network's features of ``spec`` ``(B, bins, T)``: every filter's, or the
        ``chosen`` ones' (float32; computed in bfloat16 at ``precision`` bf16)."""
        dtype = torch.bfloat16 if self.precision == "bf16" else None
        return {k: v.float() for k, v in self.bank(spec, chosen, dtype).items()}

    def subset_objective(self, chosen: Tensor) -> StyleContentObjective:
        """The objective over the ``chosen`` filters: the style Grams' rows and columns of
        them, the Gram term scaled by ``(n / m)^2`` and the content term by ``n / m``."""
        full, scale = self.objective, self.bank.filters / chosen.numel()
        grams = {k: full.style_target(k)[..., chosen[:, None], chosen[None, :]]
                 for k in full.style_layers}
        return StyleContentObjective({}, grams, content_weight=full.content_weight * scale,
                                     style_weight=full.style_weight * scale ** 2,
                                     reduction="sum", gram_normalize="positions",
                                     content_layers=full.content_layers).to(self.device)

    def loss(self, content: Optional[Tensor]) -> tuple[Tensor, dict[str, float]]:
        """The objective per crop, averaged over the batch; the terms as floats."""
        spectral = self.loss_config.spectral
        if content is not None:
            content = content.to(self.device, non_blocking=True)
        with autocast(self.device, self.precision):
            heard = None
            if content is not None:
                with torch.no_grad():  # the content at the level the network hears it
                    heard = levelled_samples(self.net, content)  # type: ignore[arg-type]
            out, level_term = self.at_level(self.output(content).float(), heard)  # (B, N)
            chosen = self.filter_subset()
            objective = self.objective if chosen is None else self.subset_objective(chosen)
            feats = self.features(spectral.log(out, WAVEFORM_EPS), chosen)
            targets = None
            if heard is not None and objective.content_layers:
                with torch.no_grad():
                    targets = self.features(spectral.log(heard), chosen)
            terms = objective(feats, content_targets=targets)
        batch = out.shape[0]
        values = {k: v / batch for k, v in terms.floats().items()}
        total = terms.total
        if level_term is not None:
            total = total + level_term
            values["level"] = float(level_term.detach()) / batch
            values["total"] += values["level"]
        return total / batch, values

    def take_step(self, content: Optional[Tensor]) -> dict[str, float]:
        """One optimiser step (see :meth:`loss`); returns the loss terms per crop.

        Raises:
            NonFiniteLossError: the loss is NaN or infinite (nothing is updated).
        """
        total, values = self.loss(content)
        update(self, total, "lower lr", content is not None)
        return values


__all__ = ["AudioTrainer", "load_styles"]
