"""The stages of one synthesis, each on one piece (a whole clip or one window), over a :class:`Run`.

* The spectrogram stage (Ulyanov & Lebedev 2016): L-BFGS on the log spectrogram
  (:func:`optimise_spectrogram`, from :func:`start_spectrogram`).
* The reconstruction: Fast Griffin-Lim of the optimised magnitude (:func:`reconstruct`).
* The waveform stage: L-BFGS on the samples through a differentiable STFT
  (:func:`optimise_waveform`, from :func:`start_samples` when there is no spectrogram stage).

:class:`Run` holds what every stage of every channel and window reads: the config, the
networks and their style targets, the noise policy, the tally of times and counts, the
progress and the callback. :mod:`audiostyle.windows` chains these stages over the windows of
a long input; :mod:`audiostyle.pipeline` drives them per channel.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Iterator, Optional, Sequence

import torch
from torch import Tensor

from shared import (OptimResult, StyleContentObjective, normalize_blend_weights, optimize,
                    release_freed_memory)

from .config import AudioStyleConfig
from .dsp import soft_limit, soft_limit_start, start_gain
from .network import RandomConvBank
from .objective import build_objective, optim_config, spectrogram_loss, waveform_loss
from .parallel import Workers
from .pghi import pghi
from .spectral import Spectral, log_to_magnitude
from .targets import StyleTargets, Wave

STAGES = ("spectrogram", "waveform")
SPECTRUM_FRAMES = 2048  # frames of a style read at a time for its long-term spectrum


@dataclass(frozen=True)
class StageStep:
    """One iteration of one stage, as the API's ``callback`` receives it.

    Attributes:
        stage: ``"spectrogram"`` or ``"waveform"``.
        channel: The output channel; ``window``: the window of a long input (0 for a short
            one); ``iteration``: from 1 within this stage of this window.
        loss: The total loss at the iteration's new point.
        variable: A copy of that point: the log spectrogram ``(1, F, T)`` of the spectrogram
            stage, the samples ``(1, N)`` (as written) of the waveform stage.
    """

    stage: str
    channel: int
    window: int
    iteration: int
    loss: float
    variable: Tensor


StageCallback = Callable[[StageStep], None]


class Noise:
    """The random streams of one channel's synthesis: the noise starts, Griffin-Lim's random
    phase and a texture window's drawn frames.

    Every channel draws alike, so the channels of a stereo result that share their content
    share their result (drawn independently, their phases were unrelated and their downmix
    partly cancelled; ``docs/audio.md``, "Stereo"). A plan of one window (a short input) has
    one stream, seeded by the seed, from which its stages draw in turn (the start, then the
    phase). A plan of several windows gives window ``i`` a stream of its own,
    ``seed * 1_000_003 + i + 1``, fresh for each stage, so a window draws the same whichever
    process or device optimises it, and a spread run equals a one-process run.
    """

    def __init__(self, seed: int, windows: int) -> None:
        self.seed, self.windows = int(seed), int(windows)
        self._whole = torch.Generator().manual_seed(self.seed) if windows == 1 else None

    def window(self, i: int) -> torch.Generator:
        """The stream of window ``i``."""
        if self._whole is not None:
            return self._whole
        return torch.Generator().manual_seed(self.seed * 1_000_003 + i + 1)

    def draws(self, i: int) -> torch.Generator:
        """The stream from which texture window ``i`` draws the frames it starts from."""
        return torch.Generator().manual_seed(self.seed * 1_000_003 + self.windows + i + 1)


@dataclass
class Tally:
    """Wall time per stage and what each optimisation stage did, summed over channels and
    windows (see :class:`audiostyle.pipeline.AudioResult`'s ``seconds`` and ``stages``)."""

    seconds: dict[str, float] = field(default_factory=lambda: {
        "features": 0.0, "optimisation": 0.0, "reconstruction": 0.0})
    stages: dict[str, dict[str, float]] = field(default_factory=dict)
    convergences: list[float] = field(default_factory=list)

    def add(self, name: str, result: OptimResult, wall: bool = True) -> None:
        """Add one run of the optimisation stage ``name`` (``"spectrogram"``, ``"waveform"``);
        ``wall=False`` for a run of another process (its counts, not its time)."""
        row = self.stages.setdefault(name, {"iterations": 0, "evaluations": 0,
                                            "start_loss": 0.0, "loss": 0.0, "seconds": 0.0})
        row["iterations"] += result.iterations
        row["evaluations"] += result.evaluations
        row["start_loss"] += result.history[0]["total"] if result.history else result.loss
        row["loss"] += result.loss
        row["seconds"] += result.seconds
        if wall:
            key = "optimisation" if name == "spectrogram" else name
            self.seconds[key] = self.seconds.get(key, 0.0) + result.seconds

    def timed(self, key: str) -> "_Timed":
        """``with tally.timed("features"): ...`` adds the block's wall time to ``key``."""
        return _Timed(self.seconds, key)


class _Timed:
    def __init__(self, seconds: dict[str, float], key: str) -> None:
        self.seconds, self.key = seconds, key

    def __enter__(self) -> None:
        self.start = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        self.seconds[self.key] = self.seconds.get(self.key, 0.0) + time.perf_counter() - self.start


@dataclass
class Run:
    """One synthesis: what every stage of every channel and window reads.

    Attributes:
        config: The settings.
        frames, samples: Spectrogram frames and samples (working rate) of the result.
        nets: The network of each stage the run has (``"spectrogram"``, ``"waveform"``); one
            network serves both when their filter counts agree.
        targets: Each stage's :class:`audiostyle.targets.StyleTargets`.
        tally: Times and counts.
        workers: This process's place in a group sharing the windows (one process: rank 0 of 1).
        quiet: No progress bars; ``label``: the progress bars' label.
        callback: Called with a :class:`StageStep` after every iteration of every stage.
        tick: Advances the progress bar over windows by its argument.
        style_spectrum: The styles' blended RMS magnitude per bin ``(F,)``, for a
            ``waveform_init="shaped"`` start (None otherwise).
    """

    config: AudioStyleConfig
    frames: int
    samples: int
    nets: dict[str, RandomConvBank]
    targets: dict[str, StyleTargets]
    tally: Tally
    workers: Workers = field(default_factory=Workers)
    quiet: bool = True
    label: str = ""
    callback: Optional[StageCallback] = None
    tick: Callable[[int], None] = lambda n: None
    style_spectrum: Optional[Tensor] = None

    @property
    def device(self) -> torch.device:
        return next(iter(self.nets.values())).device

    def style_targets(self, stage: str, channel: int) -> dict[str, Tensor]:
        """The style targets of ``stage``'s network for output ``channel`` (timed as
        features)."""
        with self.tally.timed("features"):
            return self.targets[stage].channel(channel)

    def objective(self, stage: str, job: "ChannelJob",
                  content_spec: Optional[Tensor]) -> StyleContentObjective:
        """``stage``'s objective for this channel (or window): its style targets and, for a
        transfer, the features of ``content_spec`` ``(1, F, T)``."""
        targets = self.style_targets(stage, job.index)
        with self.tally.timed("features"):
            return build_objective(self.nets[stage], targets, content_spec, self.config)


@dataclass
class ChannelJob:
    """One output channel: its index, progress label, content channel ``(1, N)`` on the run's
    device (None for a texture) and :class:`Noise`."""

    index: int
    desc: str
    content: Optional[Tensor]
    noise: Noise


def _callback(run: Run, stage: str, job: ChannelJob, window: int
              ) -> tuple[Optional[Callable[[int, Tensor, float], None]], int]:
    """:func:`shared.optimize`'s callback and period for ``run.callback`` (none without)."""
    if run.callback is None:
        return None, 0
    report = run.callback

    def step(iteration: int, x: Tensor, loss: float) -> None:
        value = soft_limit(x) if stage == "waveform" else x
        report(StageStep(stage, job.index, window, iteration, loss, value))

    return step, 1


def _optimise(run: Run, stage: str, job: ChannelJob, x0: Tensor, loss, desc: str,
              window: int) -> OptimResult:
    """One stage's :func:`shared.optimize` from ``x0``, tallied; the allocator's kept memory
    is given back after it (:func:`shared.release_freed_memory`)."""
    callback, every = _callback(run, stage, job, window)
    result = optimize(x0, loss, optim_config(run.config, stage, x0.numel()), quiet=run.quiet,
                      desc=desc, callback=callback, callback_every=every)
    release_freed_memory()
    run.tally.add(stage, result)
    return result


def start_spectrogram(run: Run, job: ChannelJob, content_spec: Optional[Tensor], frames: int,
                      window: int = 0) -> Tensor:
    """The spectrogram stage's start ``(1, F, frames)`` on the run's device, from window
    ``window``'s stream: the content's spectrogram (``init="content"``), the log spectrogram
    of :func:`shaped_noise` (``"shaped"``; why: :func:`start_samples`) or
    ``randn * init_scale`` (``"noise"``, the reference's)."""
    config = run.config
    with run.tally.timed("features"):
        if config.optim.init == "content" and content_spec is not None:
            return content_spec.clone(memory_format=torch.contiguous_format)
        if config.optim.init == "shaped" and run.style_spectrum is not None:
            spectral = config.spectral
            samples = max((frames - 1) * spectral.hop, spectral.n_fft)
            noise = shaped_noise(run.style_spectrum, samples, spectral, job.noise.window(window))
            return spectral.log(noise)[..., :frames].contiguous().to(run.device)
        return (torch.randn(1, config.bins, frames, generator=job.noise.window(window))
                * config.optim.init_scale).to(run.device)


def optimise_spectrogram(run: Run, job: ChannelJob, objective: StyleContentObjective,
                         x0: Tensor, desc: str, prefix: Optional[Tensor] = None,
                         window: int = 0) -> OptimResult:
    """L-BFGS on the log spectrogram ``x0`` ``(1, F, T)`` under ``objective(net(x))``;
    ``prefix`` ``(1, F, P)``: fixed frames the variable continues (a texture window's)."""
    loss = spectrogram_loss(run.nets["spectrogram"], objective, prefix)
    return _optimise(run, "spectrogram", job, x0, loss, desc, window)


def reconstruct(run: Run, job: ChannelJob, spec: Tensor) -> tuple[Tensor, float]:
    """Griffin-Lim of the whole log spectrogram ``spec`` ``(1, F, T)`` from a random phase
    (the channel's stream), the content's (``phase_init="content"``) or the one
    :func:`audiostyle.pghi.pghi` integrates from the magnitude, at the level ``level`` asks
    for. Returns the waveform ``(1, samples)`` and its spectral convergence."""
    config, spectral = run.config, run.config.spectral
    rec = config.reconstruction
    with run.tally.timed("reconstruction"):
        mag = log_to_magnitude(spec)  # (1, F, T)
        start = None
        if rec.phase_init == "content" and job.content is not None:
            start = spectral.phase(job.content)  # (1, F, T)
        elif rec.phase_init == "pghi":
            start = pghi(mag, config.front.n_fft, config.front.hop)  # (1, F, T)
        progress = None if run.quiet else f"Griffin-Lim{job.desc[len(run.label):]}"
        wave = spectral.griffin_lim(mag, rec.griffin_lim_iters, rec.momentum,
                                    length=run.samples, generator=job.noise.window(0),
                                    init_phase=start, progress=progress)  # (1, N)
        if config.level == "optimised":
            wave = spectral.match_level(wave, mag)  # (1, N)
        return wave, spectral.convergence(mag, wave)


def style_spectrum(styles: Sequence[Wave], weights: Sequence[float],
                   spectral: Spectral, block: int = SPECTRUM_FRAMES) -> Tensor:
    """The styles' long-term spectrum: each style's RMS STFT magnitude per bin over its frames
    and channels, the mean powers blended with ``weights``; ``(C_i, N_i)`` each (tensors, or
    files read on demand) -> ``(F,)``. Each style is read ``block`` frames at a time
    (:meth:`Spectral.frames_of`: the frames of the whole style), so a long style's samples are
    never all in memory."""
    w = normalize_blend_weights(len(styles), weights)
    power = torch.zeros(spectral.bins, dtype=torch.float64)
    for x, wt in zip(styles, w):
        frames = spectral.frames(x.shape[-1])
        total = torch.zeros_like(power)
        for a in range(0, frames, block):
            mag = spectral.frames_of(x, a, min(a + block, frames)).abs()  # (C, F, t)
            total += mag.double().square().sum(dim=(0, -1)).cpu()
        power += wt * total / (x.shape[0] * frames)
    return power.sqrt().float()


def shaped_noise(spectrum: Tensor, samples: int, spectral: Spectral,
                 generator: torch.Generator) -> Tensor:
    """Noise of ``samples`` samples ``(1, samples)`` whose every frame has the magnitudes
    ``spectrum`` ``(F,)`` and a uniformly random phase: the style's long-term spectrum and
    level, and no structure in time."""
    frames = spectral.frames(samples)
    phase = torch.rand(spectrum.shape[0], frames, generator=generator) * (2 * torch.pi)
    spec = torch.polar(spectrum[:, None].expand(-1, frames).contiguous(), phase)  # (F, T)
    wave = spectral.inverse(spec, samples)[None]  # (1, samples)
    # Frames of unrelated phases partly cancel where they overlap: back to the styles' level.
    got = spectral.magnitude(wave).square().mean()
    return wave * (spectrum.square().mean() / got.clamp_min(1e-30)).sqrt()


def start_samples(run: Run, job: ChannelJob) -> Tensor:
    """The waveform stage's start without a spectrogram stage, ``(1, samples)`` on the
    run's device, from the first window's stream: the content's samples
    (``waveform_init="content"``), noise shaped like the styles' long-term spectrum
    (``"shaped"``, :func:`shaped_noise`) or ``randn * init_scale`` samples (``"noise"``).

    ``"shaped"`` departs from Ulyanov & Lebedev's start (white noise): from white noise the
    samples' updates put energy in every band at once, and in bands where the style has
    almost none the ``log1p`` features hardly see it, so it stayed: on a drum style 20 % of
    the fast texture's energy lay in bands holding 4 % of the style's, against 12 % from
    the shaped start, which was also closer to the style under the held-out network on
    every style tried (``docs/results/2026-12-02-adhoc-shaped-start.md``)."""
    config = run.config
    assert config.waveform is not None
    if config.waveform.init == "content" and job.content is not None:
        return job.content
    if config.waveform.init == "shaped" and run.style_spectrum is not None:
        return shaped_noise(run.style_spectrum, run.samples, config.spectral,
                            job.noise.window(0)).to(run.device)
    return (torch.randn(1, run.samples, generator=job.noise.window(0))
            * config.optim.init_scale).to(run.device)


def optimise_waveform(run: Run, job: ChannelJob, objective: StyleContentObjective,
                      x0: Tensor, desc: str, prefix: Optional[Tensor] = None,
                      window: int = 0, gain: float = 1.0) -> OptimResult:
    """The waveform stage: L-BFGS on the variable ``x0`` ``(1, N)``, whose
    :func:`audiostyle.dsp.soft_limit` is the samples, heard ``gain`` times louder
    (:func:`audiostyle.objective.waveform_loss`; ``prefix`` ``(1, P)``: fixed samples before
    them). The result's ``variable`` is the variable, not yet limited."""
    loss = waveform_loss(run.nets["waveform"], objective, run.config.spectral, prefix, gain)
    return _optimise(run, "waveform", job, x0, loss, f"{desc} (waveform)", window)


def refine_whole(run: Run, job: ChannelJob, wave: Tensor) -> OptimResult:
    """The waveform stage on a whole clip from the samples ``wave`` ``(1, N)``: the variable
    starts at :func:`audiostyle.dsp.soft_limit_start` of them, scaled under full scale if they
    were above, and the loss hears the samples at ``wave``'s level
    (:func:`audiostyle.dsp.start_gain`). The result's ``variable`` is the samples, what is
    written (the gain apart)."""
    content_spec = None if job.content is None else run.config.spectral.log(job.content)
    objective = run.objective("waveform", job, content_spec)
    result = optimise_waveform(run, job, objective, soft_limit_start(wave).contiguous(),
                               job.desc, gain=start_gain(wave))
    result.variable = soft_limit(result.variable)
    return result


def each_stage(config: AudioStyleConfig) -> Iterator[str]:
    """The optimisation stages a run of ``config`` has, in order."""
    if config.spectrogram_stage:
        yield "spectrogram"
    if config.waveform is not None:
        yield "waveform"


__all__ = ["ChannelJob", "Noise", "Run", "STAGES", "StageCallback", "StageStep", "Tally",
           "each_stage", "optimise_spectrogram", "optimise_waveform", "reconstruct",
           "refine_whole", "shaped_noise", "start_samples", "start_spectrogram",
           "style_spectrum"]
