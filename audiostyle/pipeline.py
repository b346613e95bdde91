"""The one driver of a synthesis: per output channel, the stages over the windows of one plan.

A short input is a plan of one window; a long one has several (:mod:`audiostyle.windows`).
Either way, each channel runs :func:`spectrogram_stage` (optimise the log spectrogram, when the
run has that stage), :func:`reconstruction` (Griffin-Lim) and :func:`waveform_stage` (optimise
the samples, in the waveform domain), and the channels are stacked into an
:class:`AudioResult`. Transfer, texture, mono, stereo, short and long inputs and several
processes all go through this code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Sequence

import torch
from torch import Tensor

from shared import OptimResult, retain_freed_memory

from .config import AudioStyleConfig
from .network import RandomConvBank
from .parallel import Workers
from .stages import (STAGES, ChannelJob, Noise, Run, StageCallback, Tally, each_stage,
                     reconstruct, refine_whole, start_samples, style_spectrum)
from .targets import StyleTargets, Wave
from .windows import (Span, blocks, griffin_lim_blocks, join_transfer, refine_windows,
                      run_plan, texture_windows)


@dataclass
class AudioResult:
    """What :func:`audiostyle.style_transfer` and :func:`audiostyle.texture_synthesis` return.

    Attributes:
        waveform: The result, ``(channels, time)`` float32 on the CPU, at ``sample_rate``.
        sample_rate: The content's rate (transfer) or the first style's (texture).
        spectrogram: The log spectrogram ``(channels, bins, frames)`` at the working rate
            (``log1p`` magnitudes): the optimised one in the spectrogram domain, in the waveform
            domain the optimised samples' own (before the level match).
        history: Loss terms per iteration (``{"total", "content", "style"}``), per channel:
            the spectrogram stage's iterations, then the waveform stage's.
        loss: Final total loss of what is returned (the waveform stage's in the waveform
            domain), summed over channels; ``terms`` the same per term.
        iterations, evaluations: Optimiser iterations and loss evaluations of every stage,
            summed over channels.
        spectral_convergence: Of the Griffin-Lim reconstruction, mean over channels; ``None``
            when no Griffin-Lim ran (waveform domain started from the content or noise).
        seconds: Wall time of each stage (``"features"``, ``"optimisation"`` of the
            spectrogram, ``"reconstruction"``, and ``"waveform"`` in the waveform domain).
        stages: Per optimisation stage run (``"spectrogram"``, ``"waveform"``), summed over
            channels: ``iterations``, ``evaluations``, ``start_loss``, ``loss`` (its best),
            ``seconds``.
        config: The settings used.
        interrupted: Ctrl-C stopped the optimisation. The channel being optimised is the best
            found so far; every later channel keeps its place unoptimised: the content channel
            unchanged in a style transfer, silence in a texture (its ``history`` is empty).
        extra: What the API adds to the settings in :meth:`metrics` (mode, weights, ...).
        leader: False on the ranks other than 0 of a torch.distributed group
            (:mod:`audiostyle.parallel`): they helped optimise, rank 0 holds the result; their
            ``waveform`` has no samples.
    """

    waveform: Tensor
    sample_rate: int
    spectrogram: Tensor
    history: list[list[dict[str, float]]]
    loss: float
    terms: dict[str, float]
    iterations: int
    evaluations: int
    spectral_convergence: Optional[float]
    seconds: dict[str, float]
    config: AudioStyleConfig
    interrupted: bool = False
    stages: dict[str, dict[str, float]] = field(default_factory=dict)
    extra: dict[str, object] = field(default_factory=dict)
    leader: bool = True

    def metrics(self) -> dict[str, object]:
        """A JSON-ready summary: settings, domain, each stage's iteration budget and what it
        did, losses, counts, spectral convergence, timings."""
        return {
            "settings": {**self.config.settings(), **self.extra},
            "domain": self.config.domain,
            "budget": {stage: self.config.budget(stage) for stage in STAGES},
            "stages": self.stages,
            "loss": self.loss,
            "terms": self.terms,
            "iterations": self.iterations,
            "evaluations": self.evaluations,
            "spectral_convergence": self.spectral_convergence,
            "seconds": self.seconds,
            "interrupted": self.interrupted,
            "sample_rate": self.sample_rate,
            "channels": int(self.waveform.shape[0]),
            "samples": int(self.waveform.shape[-1]),
            "loss_history": [[h["total"] for h in ch] for ch in self.history],
        }


@dataclass
class Channel:
    """One output channel's result: spectrogram ``(1, F, T)`` and waveform ``(1, N)`` (CPU,
    working rate), its loss history, the last stage's :class:`shared.OptimResult` (None when
    the channel was not optimised)."""

    spec: Tensor
    wave: Tensor
    history: list[dict[str, float]]
    result: Optional[OptimResult]

    @property
    def interrupted(self) -> bool:
        return self.result is not None and self.result.interrupted


def build_networks(config: AudioStyleConfig, device: torch.device) -> dict[str, RandomConvBank]:
    """The random network of each stage the run has, seeded by ``seed``: one network of
    ``filters`` per width for the spectrogram stage and, unless ``waveform_filters`` asks for
    another count, the waveform stage too."""
    nets: dict[str, RandomConvBank] = {}
    for stage in each_stage(config):
        filters = config.filters_of(stage)
        shared_net = next((n for n in nets.values() if n.filters == filters), None)
        nets[stage] = shared_net or RandomConvBank(
            config.bins, filters, config.features.kernel_widths, seed=config.seed,
            precision=config.features.precision).to(device)
    return nets


def new_run(config: AudioStyleConfig, styles: Sequence[Wave], style_weights: Sequence[float],
            frames: int, samples: int, device: torch.device, *, quiet: bool, label: str,
            workers: Workers, callback: Optional[StageCallback] = None) -> Run:
    """The :class:`audiostyle.stages.Run` of a synthesis of ``frames`` frames and ``samples``
    samples from working-rate ``styles`` (each ``(C_i, N_i)``)."""
    tally = Tally()
    if config.waveform is not None:
        tally.seconds["waveform"] = 0.0
    quiet = quiet or not workers.leader
    with tally.timed("features"):
        nets = build_networks(config, device)
    targets: dict[str, StyleTargets] = {}
    for stage, net in nets.items():
        same = next((t for t in targets.values() if t.net is net), None)
        targets[stage] = same or StyleTargets(net, styles, style_weights, config, quiet)
    spectrum = None
    if config.optim.init == "shaped" and config.spectrogram_stage or \
            config.waveform is not None and config.waveform.init == "shaped":
        with tally.timed("features"):
            spectrum = style_spectrum(styles, style_weights, config.spectral)
    return Run(config, frames, samples, nets, targets, tally, workers, quiet, label, callback,
               style_spectrum=spectrum)


def synthesize(run: Run, content: Optional[Tensor], channels: int) -> AudioResult:
    """Every output channel of ``run``, in its place (level not yet matched, working rate).

    Args:
        content: The content at the working rate ``(C, N)``, or None for a texture.
        channels: Output channels (the content's; for a texture, the widest style's).

    After Ctrl-C the channel being optimised is its best so far and the later channels keep
    their place unoptimised (:func:`unoptimised_channel`). On a rank other than 0 of a group,
    the result has ``leader=False`` and no samples.
    """
    from tqdm.auto import tqdm

    retain_freed_memory()  # each evaluation allocates the same large buffers: keep them
    plan = run_plan(run)
    bar = tqdm(total=channels * _ticks(run, plan, content is not None), desc=run.label,
               unit="window", disable=run.quiet or len(plan) == 1, dynamic_ncols=True,
               leave=False)
    run.tick = bar.update
    done: list[Channel] = []
    stopped = False
    try:
        for c in range(channels):
            if stopped:
                done.append(unoptimised_channel(run, content, c))
                continue
            desc = run.label if channels == 1 else f"{run.label} ch{c + 1}/{channels}"
            wave = None if content is None else content[c:c + 1].to(run.device)  # (1, N)
            channel, stopped = synthesize_channel(run, ChannelJob(c, desc, wave,
                                                                  Noise(run.config.seed,
                                                                        len(plan))), plan)
            if channel is not None:
                done.append(channel)
    finally:
        bar.close()
    if not run.workers.leader:
        return _empty(run, channels, stopped)
    return assemble(done, run)


def _ticks(run: Run, plan: Sequence[Span], transfer: bool) -> int:
    """Progress-bar steps of one channel: its windows (this rank's share of a transfer's),
    Griffin-Lim blocks and waveform windows."""
    mine = len(run.workers.share(len(plan))) if transfer else len(plan)
    return ((mine + len(plan)) * run.config.spectrogram_stage
            + len(plan) * (run.config.waveform is not None))


def synthesize_channel(run: Run, job: ChannelJob, plan: Sequence[Span]
                       ) -> tuple[Optional[Channel], bool]:
    """One channel: the spectrogram stage and its reconstruction (when the run has them),
    then the waveform stage (in the waveform domain, on rank 0, unless Ctrl-C stopped the
    first). Returns the :class:`Channel` on rank 0 (None on the others) and whether Ctrl-C
    stopped any rank."""
    history: list[dict[str, float]] = []
    result: Optional[OptimResult] = None
    stopped = False
    spec = wave = None
    if run.config.spectrogram_stage:
        spec, result, stopped = spectrogram_stage(run, job, plan)
        if spec is None or result is None:
            return None, stopped
        history += result.history
        wave = reconstruction(run, job, plan, spec)
    elif run.workers.leader:
        wave = start_samples(run, job)
    if wave is None:
        return None, stopped
    if run.config.waveform is not None and not stopped:
        wave, spec, result = waveform_stage(run, job, plan, wave)
        history += result.history
        stopped = result.interrupted
    assert spec is not None and result is not None
    return Channel(spec.cpu(), wave.cpu(), history, result), stopped


def spectrogram_stage(run: Run, job: ChannelJob, plan: Sequence[Span]
                      ) -> tuple[Optional[Tensor], Optional[OptimResult], bool]:
    """The optimised log spectrogram ``(1, F, T)`` (CPU) and its result on rank 0 (None, None
    on the others) and whether Ctrl-C stopped any rank: a transfer's windows shared between
    the ranks and joined, a texture's chained on rank 0."""
    if job.content is not None:
        return join_transfer(run, job, plan)
    if not run.workers.leader:
        return None, None, False
    spec, result = texture_windows(run, job, plan)
    return spec, result, result.interrupted


def reconstruction(run: Run, job: ChannelJob, plan: Sequence[Span], spec: Tensor) -> Tensor:
    """Griffin-Lim of the optimised ``spec`` ``(1, F, T)``: whole for one window, in the
    plan's blocks otherwise. Returns the waveform ``(1, N)``."""
    if len(plan) == 1:
        wave, convergence = reconstruct(run, job, spec.to(run.device))
    else:
        with run.tally.timed("reconstruction"):
            wave, convergence = griffin_lim_blocks(spec, run.samples, run.config, run.device,
                                                   job.content, run.tick, job.noise)
    run.tally.convergences.append(convergence)
    return wave


def waveform_stage(run: Run, job: ChannelJob, plan: Sequence[Span], wave: Tensor
                   ) -> tuple[Tensor, Tensor, OptimResult]:
    """The waveform stage from ``wave`` ``(1, N)``: whole for one window, chained over the
    plan's windows otherwise. Returns the samples ``(1, N)``, their log spectrogram
    ``(1, F, T)`` (as written) and the stage's result."""
    spectral = run.config.spectral
    if len(plan) == 1:
        result = refine_whole(run, job, wave)
        wave = result.variable.detach()  # (1, N)
        return wave, spectral.log(wave), result
    wave, result = refine_windows(run, job, wave)
    spec = torch.cat([spectral.log_frames(wave, a, b) for a, b in
                      blocks(spectral.frames(wave.shape[-1]), 4096)], dim=-1)  # (1, F, T)
    return wave, spec, result


def unoptimised_channel(run: Run, content: Optional[Tensor], c: int) -> Channel:
    """Channel ``c`` of a run stopped before reaching it: the content channel itself (a
    copy), or silence for a texture; no history, no result."""
    if content is None:
        return Channel(torch.zeros(1, run.config.bins, run.frames), torch.zeros(1, run.samples),
                       [], None)
    wave = content[c:c + 1].detach().to("cpu", torch.float32).clone()  # (1, N), never the caller's
    return Channel(run.config.spectral.log(wave), wave, [], None)  # (1, F, T), (1, N)


def assemble(done: Sequence[Channel], run: Run) -> AudioResult:
    """Stack the channels into an :class:`AudioResult` at the working rate (level not yet
    matched): the loss of each channel's last stage, the stages' counts summed."""
    results = [ch.result for ch in done if ch.result is not None]
    terms: dict[str, float] = {}
    for r in results:
        for k, v in r.terms.items():
            terms[k] = terms.get(k, 0.0) + v
    conv, stages = run.tally.convergences, run.tally.stages
    return AudioResult(
        waveform=_stack([ch.wave for ch in done]),  # (C, N)
        sample_rate=run.config.front.sample_rate,
        spectrogram=_stack([ch.spec for ch in done]),  # (C, F, T)
        history=[ch.history for ch in done], loss=sum(r.loss for r in results), terms=terms,
        iterations=sum(int(r["iterations"]) for r in stages.values()),
        evaluations=sum(int(r["evaluations"]) for r in stages.values()),
        spectral_convergence=float(sum(conv) / len(conv)) if conv else None,
        seconds=run.tally.seconds, config=run.config,
        interrupted=any(ch.interrupted for ch in done), stages=stages)


def _empty(run: Run, channels: int, stopped: bool) -> AudioResult:
    """The result of a rank other than 0: no samples, ``leader=False``."""
    return AudioResult(
        waveform=torch.zeros(channels, 0), sample_rate=run.config.front.sample_rate,
        spectrogram=torch.zeros(channels, run.config.bins, 0), history=[], loss=0.0, terms={},
        iterations=0, evaluations=0, spectral_convergence=None, seconds=run.tally.seconds,
        config=run.config, interrupted=stopped, leader=False)


def _stack(parts: Sequence[Tensor]) -> Tensor:
    """``torch.cat`` along channels, without copying a single channel."""
    return parts[0] if len(parts) == 1 else torch.cat(list(parts))


__all__ = ["AudioResult", "Channel", "assemble", "build_networks", "new_run", "reconstruction",
           "spectrogram_stage", "synthesize", "synthesize_channel", "unoptimised_channel",
           "waveform_stage"]
