"""The Python API: audio style transfer and audio texture synthesis (Ulyanov & Lebedev 2016).

:func:`style_transfer` keeps the content's structure (its features) with the styles' texture
(their Gram matrices); :func:`texture_synthesis` matches the Gram matrices alone, for a clip of
any length. Both optimise the log-magnitude spectrogram itself with the shared loop
(:func:`shared.optimize`), then recover a waveform by Griffin-Lim. With
``config.domain="waveform"`` they then optimise the samples themselves under the same features
and objective, through a differentiable STFT (:func:`waveform_loss`), and return exactly the
samples optimised (see :class:`AudioStyleConfig`'s note for the contract).

.. note:: Beyond the reference: the content is used at full length and each style whole (the
   Gram is normalised by frame count, so no crop to 430 frames); several styles are blended;
   several kernel widths may be used; stereo content may be processed channel by channel; any
   sample rate is resampled to the working rate and the result back; the result is written
   at the level the optimisation chose (``level="optimised"``: Griffin-Lim's output scaled to
   the optimised magnitude's norm) instead of peak-normalised, and never clipped.
   ``level="content"`` matches the content's RMS (the styles' for textures) instead. Measured
   with a held-out random network (seed 1234, widths 5 and 25) on the written files, the
   optimised level is closer to the style on every case tried: 12 s strings texture at the
   reference's settings 0.19 against 0.25 for the RMS match and 0.46 for the reference's peak
   normalisation; at 1024 filters and 50 iterations 0.61 against 2.94 (texture) and 0.61
   against 6.90 (guitar content, 1.5 s style). The RMS match rescales the samples, and
   log1p|STFT| is not scale-invariant.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Optional, Sequence

import torch
from torch import Tensor

from shared import (LossTerms, OptimConfig, OptimResult, StyleContentObjective, blend_grams,
                    normalize_blend_weights, optimize, release_freed_memory, select_device)

from .audio import (check_length, downmix, match_level, resample, rms, soft_limit,
                    soft_limit_start)
from .config import AudioStyleConfig
from .network import RandomConvBank
from .pghi import pghi
from .rhythm import AUTOCORR_PREFIX, AutocorrObjective, style_autocorrelations
from .spectral import Spectral, log_to_magnitude
from .stream import AudioFile, ResampledFile, Source, working_view

Wave = Tensor | ResampledFile  # (C, N) samples at the working rate


@dataclass
class AudioResult:
    """What :func:`style_transfer` and :func:`texture_synthesis` return.

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
        leader: False on the ranks other than 0 of a torch.distributed group
            (:mod:`audiostyle.parallel`): they helped optimise, rank 0 holds the result; their
            ``waveform`` has no samples.
        interrupted: Ctrl-C stopped the optimisation. The channel being optimised is the best
            found so far; every later channel keeps its place unoptimised: the content channel
            unchanged in a style transfer, silence in a texture (its ``history`` is empty).
        config: The settings used.
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
        """A JSON-ready summary: settings, domain and stages, losses, counts, spectral
        convergence, timings. ``refine_iterations`` is the waveform stage's budget (0 in the
        spectrogram domain); ``stages`` what each stage did."""
        return {
            "settings": {**asdict(self.config), **self.extra},
            "domain": self.config.domain,
            "refine_iterations": self.config.waveform_iterations,
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


def working_signal(source: Source, config: AudioStyleConfig, stereo: bool, what: str,
                   lazy: bool = False) -> Wave:
    """``source`` at the working rate, downmixed unless ``stereo``: ``(C, N)``; with ``lazy``
    and a file read on demand (:class:`audiostyle.stream.AudioFile`), a
    :class:`audiostyle.stream.ResampledFile` view of it, else a tensor (a file's filled block
    by block, without its samples at their own rate).

    Raises ``ValueError`` (naming the file) if it is shorter than the network's receptive
    field.
    """
    check_length(source, config.min_samples, config.sample_rate, what)
    view = working_view(source, config.sample_rate, mono=not stereo)  # (C, N')
    return view if lazy or isinstance(view, Tensor) else view.tensor()


def source_levels(source: Source, stereo: bool) -> Tensor:
    """RMS level of ``source`` per channel ``(C,)`` with ``stereo``, else of its downmix
    ``(1,)``."""
    if isinstance(source, AudioFile):
        return source.levels if stereo else source.mono_level
    return rms(source.samples if stereo else downmix(source.samples))


def _style_channel(style: Wave, k: int) -> Wave:
    """Channel ``k`` of a working-rate style ``(1, N)``; ``k = -1``: its downmix."""
    if isinstance(style, ResampledFile):
        return style.channel_view(k) if k >= 0 else style.downmix()
    return style[k:k + 1] if k >= 0 else downmix(style)


def chunked_grams(net: RandomConvBank, spec: Tensor, chunk_frames: int = 4096) -> dict[str, Tensor]:
    """Position-normalised Gram per layer of one spectrogram ``(1, F, T)``, any length.

    The Gram is a sum over positions, so it is accumulated over chunks of ``chunk_frames``
    output positions (each chunk's input overlaps the next by the widest kernel less one):
    memory is that of one chunk's features, not of the whole style (an hour of audio has
    155 000 frames: 2.5 GB of features at 4096 filters at once, 67 MB a chunk). The result
    equals :func:`shared.gram_matrix` on the whole features up to summation order.

    Returns ``{"conv<K>": (1, C, C)}``.
    """
    return _accumulate_grams(net, spec.shape[-1], lambda a, b: spec[..., a:b], chunk_frames)


def wave_grams(net: RandomConvBank, wave: Tensor, spectral: Spectral,
               chunk_frames: int = 4096, progress: Optional[str] = None) -> dict[str, Tensor]:
    """:func:`chunked_grams` of the log spectrogram of ``wave`` ``(1, N)``, each chunk's
    frames computed from its samples only (:func:`audiostyle.spectral.stft_frames`): no
    spectrogram of the whole signal is ever held (30 minutes at 2048/512: 320 MB of
    magnitudes, 640 MB of complex STFT). ``progress``: label of a progress bar over the
    chunks, shown when there are more than two."""
    return _accumulate_grams(
        net, spectral.frames(wave.shape[-1]),
        lambda a, b: spectral.log_frames(wave, a, b), chunk_frames,
        progress)


def _accumulate_grams(net: RandomConvBank, frames: int, read: Callable[[int, int], Tensor],
                      chunk_frames: int, progress: Optional[str] = None) -> dict[str, Tensor]:
    """The Gram sums of :func:`chunked_grams` over ``frames`` frames that ``read(a, b)``
    gives as ``(1, F, b - a)``, normalised by positions."""
    from tqdm.auto import tqdm

    if chunk_frames < 1:
        raise ValueError(f"chunk_frames must be positive, got {chunk_frames}")
    widest = net.receptive_frames
    sums: dict[str, Tensor] = {}
    with torch.no_grad():
        starts = range(0, frames - widest + 1, chunk_frames)
        for start in tqdm(starts, desc=progress, unit="chunk", leave=False, dynamic_ncols=True,
                          disable=progress is None or len(starts) <= 2):
            last = start + chunk_frames > frames - widest
            feats = net(read(start, frames if last else start + chunk_frames + widest - 1))
            for k, name in zip(net.kernel_widths, net.layer_names):
                f = feats[name] if last else feats[name][..., :chunk_frames]  # (1, C, n)
                part = torch.bmm(f, f.transpose(1, 2))  # (1, C, C)
                sums[name] = part if name not in sums else sums[name].add_(part)
            del feats
    return {name: sums[name] / (frames - k + 1)
            for k, name in zip(net.kernel_widths, net.layer_names)}


def style_grams(net: RandomConvBank, specs: Sequence[Tensor],
                weights: Optional[Sequence[float]]) -> dict[str, Tensor]:
    """Blended target Gram per layer of style spectrograms (each ``(1, F, T_i)``, any lengths).

    Returns ``{"conv<K>": (1, C, C)}``, each style's Gram normalised by its own frame count
    and accumulated in chunks (:func:`chunked_grams`), so a long style costs one chunk's
    feature memory.
    """
    per_style = [chunked_grams(net, spec) for spec in specs]
    return {name: blend_grams([g[name] for g in per_style], weights) for name in net.layer_names}


def _lbfgs_history(config: AudioStyleConfig, numel: int) -> int:
    """L-BFGS history size, capped so that its (step, gradient) pairs fit lbfgs_memory_mb."""
    pair_bytes = 2 * 4 * numel
    cap = max(3, (config.lbfgs_memory_mb << 20) // max(pair_bytes, 1))
    return int(min(config.history_size, cap))


def _unoptimised_channel(content: Optional[Tensor], c: int, frames: int, out_samples: int,
                         config: AudioStyleConfig) -> "Channel":
    """Channel ``c`` of a run stopped before reaching it: the content channel itself (a
    copy), or silence for a texture; no history, no result."""
    if content is None:
        return Channel(torch.zeros(1, config.bins, frames), torch.zeros(1, out_samples), [], None)
    wave = content[c:c + 1].detach().to("cpu", torch.float32).clone()  # (1, N), never the caller's
    return Channel(config.spectral.log(wave), wave, [], None)  # (1, F, T), (1, N)


WAVEFORM_EPS = 1e-12  # inside the waveform stage's magnitude: a finite gradient at silence


def waveform_loss(net: RandomConvBank, objective: StyleContentObjective,
                  spectral: Spectral) -> Callable[[Tensor], LossTerms]:
    """The waveform domain's loss: variable ``(1, N)`` -> ``objective(net(S))`` with
    ``S = log1p(sqrt(re^2 + im^2 + eps))`` of the STFT of its samples
    :func:`audiostyle.audio.soft_limit` ``(variable)``
    (:func:`audiostyle.spectral.log_spectrogram` with
    ``eps = WAVEFORM_EPS``), differentiable in the samples (Mital 2017; Barry & Kim 2017;
    Caracalla & Roebel 2020)."""

    def loss(x: Tensor) -> LossTerms:
        return objective(net(spectral.log(soft_limit(x), WAVEFORM_EPS)))  # (1, F, T)

    return loss


def _optim(config: AudioStyleConfig, iterations: int, numel: int) -> OptimConfig:
    return OptimConfig(
        optimizer=config.optimizer, iterations=iterations, lr=config.lr,
        history_size=_lbfgs_history(config, numel),
        line_search=config.line_search if config.optimizer == "lbfgs" else None,
    )


@dataclass
class Tally:
    """Wall time per stage and what each optimisation stage did, summed over channels and
    windows (see :class:`AudioResult`'s ``seconds`` and ``stages``)."""

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
        if not wall:
            return
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
class Channel:
    """One output channel's result: spectrogram ``(1, F, T)`` and waveform ``(1, N)`` (CPU,
    working rate), its loss history, the last stage's :class:`OptimResult` (None when the
    channel was not optimised)."""

    spec: Tensor
    wave: Tensor
    history: list[dict[str, float]]
    result: Optional[OptimResult]

    @property
    def interrupted(self) -> bool:
        return self.result is not None and self.result.interrupted


def build_network(config: AudioStyleConfig, device: torch.device,
                  filters: Optional[int] = None) -> RandomConvBank:
    """The random feature network of ``config`` (seeded by ``config.seed``) on ``device``:
    ``filters`` per width, by default ``config.filters``, or ``config.waveform_filters`` when
    the run has no spectrogram stage (the waveform stage is then its only stage)."""
    if filters is None:
        filters = config.filters if config.spectrogram_stage else config.waveform_filters
    return RandomConvBank(config.bins, filters, config.kernel_widths, seed=config.seed,
                          precision=config.precision).to(device)


def waveform_network(net: RandomConvBank, config: AudioStyleConfig,
                     device: torch.device) -> RandomConvBank:
    """The waveform stage's network: ``net`` itself, unless ``config.refine_filters`` asks
    for another filter count (same seed and widths), which gets its own network."""
    if config.domain != "waveform" or config.waveform_filters == net.filters:
        return net
    return build_network(config, device, config.waveform_filters)


WaveformStage = tuple[RandomConvBank, dict[str, Tensor]]  # the waveform stage's network and
# style targets, where they differ from the spectrogram stage's (config.refine_filters)


def waveform_stage(wnet: RandomConvBank, net: RandomConvBank, styles: Sequence[Tensor],
                   c: int, cache: dict[tuple[int, ...], dict[str, Tensor]],
                   config: AudioStyleConfig, style_weights: Optional[Sequence[float]],
                   tally: Tally, quiet: bool) -> Optional[WaveformStage]:
    """``(wnet, its style targets for channel c)`` (:func:`_channel_targets`, with its own
    ``cache``) when the waveform stage has its own network ``wnet``; None when it shares
    ``net``."""
    if wnet is net:
        return None
    with tally.timed("features"):
        return wnet, _channel_targets(wnet, styles, c, cache, config, style_weights, quiet)


def build_objective(net: RandomConvBank, style_targets: dict[str, Tensor],
                    content_spec: Optional[Tensor],
                    config: AudioStyleConfig) -> StyleContentObjective:
    """The objective of one channel (or window): the style Grams ``{"conv<K>": (1, C, C)}``
    and, for a transfer with ``content_weight > 0``, the features of ``content_spec``
    ``(1, F, T)``. With ``config.autocorr_weight > 0`` the targets' ``"autocorr/conv<K>"``
    entries ``(1, C, L)`` (see :func:`_channel_targets`) make it an
    :class:`~audiostyle.rhythm.AutocorrObjective`."""
    content_targets: dict[str, Tensor] = {}
    if content_spec is not None and config.content_weight > 0:
        with torch.no_grad():
            content_targets = net(content_spec)
    grams = {k: v for k, v in style_targets.items() if not k.startswith(AUTOCORR_PREFIX)}
    lagged = {k[len(AUTOCORR_PREFIX):]: v for k, v in style_targets.items()
              if k.startswith(AUTOCORR_PREFIX)}
    device = next(iter(grams.values())).device
    kwargs = dict(content_weight=config.content_weight, style_weight=config.style_weight,
                  reduction="sum", gram_normalize="positions")
    if config.autocorr_weight > 0 and lagged:
        return AutocorrObjective(content_targets, grams, autocorr_targets=lagged,
                                 autocorr_weight=config.autocorr_weight, **kwargs).to(device)
    objective = StyleContentObjective(content_targets, grams, **kwargs)  # type: ignore[arg-type]
    return objective.to(device)


def start_spectrogram(content_spec: Optional[Tensor], frames: int, config: AudioStyleConfig,
                      generator: torch.Generator, device: torch.device) -> Tensor:
    """The spectrogram stage's start ``(1, F, T)``: the content's spectrogram
    (``init="content"``) or ``randn * init_scale`` drawn from ``generator``."""
    if config.init == "content" and content_spec is not None:
        return content_spec.clone(memory_format=torch.contiguous_format)
    return (torch.randn(1, config.bins, frames, generator=generator)
            * config.init_scale).to(device)


def optimise_spectrogram(net: RandomConvBank, objective: StyleContentObjective, x0: Tensor,
                         config: AudioStyleConfig, quiet: bool, desc: str,
                         prefix: Optional[Tensor] = None) -> OptimResult:
    """L-BFGS on the log spectrogram ``x0`` ``(1, F, T)`` under ``objective(net(x))``.

    ``prefix`` ``(1, F, P)``, fixed frames the variable continues (a texture window's
    context): the loss is then taken on ``cat(prefix, x)``."""
    if prefix is None:
        loss = lambda x: objective(net(x))  # noqa: E731
    else:
        loss = lambda x: objective(net(torch.cat([prefix, x], dim=-1)))  # noqa: E731
    return optimize(x0, loss, _optim(config, config.iterations, x0.numel()), quiet=quiet,
                    desc=desc)


def reconstruct(spec: Tensor, content_wave: Optional[Tensor], out_samples: int,
                config: AudioStyleConfig, generator: torch.Generator,
                progress: Optional[str]) -> tuple[Tensor, float]:
    """Griffin-Lim of the log spectrogram ``spec`` ``(1, F, T)`` (from the content's phase
    when ``phase_init="content"`` and ``content_wave`` ``(1, N)`` is given, from the phase
    :func:`audiostyle.pghi.pghi` integrates from the magnitude when ``phase_init="pghi"``),
    at the level ``config.level`` asks for. Returns the waveform ``(1, out_samples)`` and
    its spectral convergence."""
    mag = log_to_magnitude(spec)  # (1, F, T)
    start = None
    if config.phase_init == "content" and content_wave is not None:
        start = config.spectral.phase(content_wave)  # (1, F, T)
    elif config.phase_init == "pghi":
        start = pghi(mag, config.n_fft, config.hop)  # (1, F, T)
    wave = config.spectral.griffin_lim(mag, config.griffin_lim_iters, config.momentum,
                                       length=out_samples, generator=generator,
                                       init_phase=start, progress=progress)  # (1, N)
    if config.level == "optimised":
        wave = config.spectral.match_level(wave, mag)  # (1, N)
    return wave, config.spectral.convergence(mag, wave)


def optimise_waveform(net: RandomConvBank, objective: StyleContentObjective, wave: Tensor,
                      config: AudioStyleConfig, quiet: bool, desc: str) -> OptimResult:
    """The waveform stage: L-BFGS from the samples ``wave`` ``(1, N)`` (:func:`waveform_loss`;
    the variable is :func:`audiostyle.audio.soft_limit_start` of them, the start scaled under
    full scale if it was above). The result's ``variable`` is the samples, ``soft_limit`` of
    the optimised variable: what is written."""
    result = optimize(soft_limit_start(wave).contiguous(),
                      waveform_loss(net, objective, config.spectral),
                      _optim(config, config.waveform_iterations, wave.numel()), quiet=quiet,
                      desc=f"{desc} (waveform)")
    result.variable = soft_limit(result.variable)
    return result


def _first_wave(content_wave: Optional[Tensor], out_samples: int, config: AudioStyleConfig,
                generator: torch.Generator, device: torch.device) -> Tensor:
    """The waveform stage's start without a spectrogram stage: the content's samples or
    ``randn * init_scale`` samples, ``(1, N)``."""
    if config.waveform_init == "content" and content_wave is not None:
        return content_wave
    return (torch.randn(1, out_samples, generator=generator) * config.init_scale).to(device)


def synthesize_channel(net: RandomConvBank, style_targets: dict[str, Tensor],
                       content_wave: Optional[Tensor], frames: int, out_samples: int,
                       config: AudioStyleConfig, generator: torch.Generator, tally: Tally,
                       quiet: bool, desc: str, label: str,
                       stage: Optional[WaveformStage] = None) -> Channel:
    """One channel, whole: the spectrogram stage (optimise ``S``, Griffin-Lim) when
    ``config.spectrogram_stage``, then in the waveform domain the waveform stage.

    Args:
        content_wave: This channel of the content ``(1, N)`` on the network's device, or
            None (texture).
        frames, out_samples: Spectrogram frames and samples of the result.
        stage: The waveform stage's own network and style targets
            (:func:`waveform_stage`); None: ``net`` and ``style_targets``.
    """
    device = net.weight(net.kernel_widths[0]).device
    with tally.timed("features"):
        content_spec = (None if content_wave is None
                        else config.spectral.log(content_wave))  # (1, F, T)
        objective = build_objective(net, style_targets, content_spec, config)
    history: list[dict[str, float]] = []
    result: Optional[OptimResult] = None
    if config.spectrogram_stage:
        with tally.timed("features"):
            x0 = start_spectrogram(content_spec, frames, config, generator, device)
        result = optimise_spectrogram(net, objective, x0, config, quiet, desc)
        tally.add("spectrogram", result)
        history += result.history
        spec = result.variable.detach()  # (1, F, T)
        with tally.timed("reconstruction"):
            wave, convergence = reconstruct(
                spec, content_wave, out_samples, config, generator,
                None if quiet else f"Griffin-Lim{desc[len(label):]}")  # (1, N)
        tally.convergences.append(convergence)
    else:
        wave = _first_wave(content_wave, out_samples, config, generator, device)
    if config.domain == "waveform" and not (result is not None and result.interrupted):
        wnet, wobjective = net, objective
        if stage is not None:
            wnet = stage[0]
            with tally.timed("features"):
                wobjective = build_objective(wnet, stage[1], content_spec, config)
        result = optimise_waveform(wnet, wobjective, wave, config, quiet, desc)
        tally.add("waveform", result)
        history += result.history
        wave = result.variable.detach()  # (1, N)
        spec = config.spectral.log(wave)  # (1, F, T), as written
    return Channel(spec.cpu(), wave.cpu(), history, result)


def _channel_targets(net: RandomConvBank, styles: Sequence[Tensor], c: int,
                     cache: dict[tuple[int, ...], dict[str, Tensor]], config: AudioStyleConfig,
                     style_weights: Optional[Sequence[float]],
                     quiet: bool = True) -> dict[str, Tensor]:
    """The blended style Grams of output channel ``c``: channel ``c`` of each style that has
    it, the style's downmix otherwise; mono styles serve every channel, so ``cache`` keeps
    the last channel's Grams. With ``config.autocorr_weight > 0`` also the blended feature
    autocorrelations over ``config.autocorr_lags`` lags (``"autocorr/conv<K>"``, ``(1, C, L)``,
    :func:`audiostyle.rhythm.style_autocorrelations`, accumulated in chunks like the Grams)."""
    key = tuple(c if 1 < s.shape[0] and c < s.shape[0] else -1 for s in styles)  # -1: downmix
    if key not in cache:
        device = net.weight(net.kernel_widths[0]).device
        waves = [_style_channel(s, k).to(device) for s, k in zip(styles, key)]  # (1, N_i)
        cache.clear()
        per_style = [wave_grams(net, w, config.spectral,
                                progress=None if quiet else f"style {i + 1} Gram")
                     for i, w in enumerate(waves)]
        cache[key] = {name: blend_grams([g[name] for g in per_style], style_weights)
                      for name in net.layer_names}
        if config.autocorr_weight > 0:
            specs = [config.spectral.log(w.tensor() if isinstance(w, ResampledFile) else w)
                     for w in waves]
            lagged = style_autocorrelations(net, net.kernel_widths, specs, config.autocorr_lags,
                                            style_weights)
            cache[key].update({AUTOCORR_PREFIX + k: v for k, v in lagged.items()})
    return cache[key]


def _synthesize(
    content: Optional[Tensor],
    styles: Sequence[Tensor],
    frames: int,
    out_samples: int,
    config: AudioStyleConfig,
    style_weights: Optional[Sequence[float]],
    device: torch.device,
    quiet: bool,
    label: str,
) -> AudioResult:
    """Shared core: per output channel, build the objective, optimise, reconstruct
    (:func:`synthesize_channel`).

    Args:
        content: Content at the working rate ``(C, N)`` or ``None`` (texture).
        styles: Styles at the working rate, each ``(C_i, N_i)``; channel ``c`` of the result
            uses channel ``c`` of a style that has it and the style's downmix otherwise.
        frames: Spectrogram frames of the result; ``out_samples`` its samples.

    Returns:
        :class:`AudioResult` with one channel per content channel (per channel of the widest
        style for textures), each in its place. When Ctrl-C stops the optimisation of a
        channel, that channel is the best found so far (Ctrl-C in its spectrogram stage: the
        Griffin-Lim reconstruction of the best spectrogram, and no waveform stage) and the
        channels after it are not optimised: in a style transfer each of them is its content
        channel unchanged (waveform and spectrogram), in a texture it is silence (an all-zero
        spectrogram). Their ``history`` is empty and they do not count in
        ``spectral_convergence``.
    """
    if frames > config.window_frames:
        from .windows import synthesize_windows  # windows builds on this module's steps

        return synthesize_windows(content, styles, frames, out_samples, config, style_weights,
                                  device, quiet, label)
    tally = Tally()
    if config.domain == "waveform":
        tally.seconds["waveform"] = 0.0
    with tally.timed("features"):
        net = build_network(config, device)
        wnet = waveform_network(net, config, device)
    wcache: dict[tuple[int, ...], dict[str, Tensor]] = {}

    def run(c: int, targets: dict[str, Tensor], content_wave: Optional[Tensor],
            desc: str) -> tuple[Optional[Channel], bool]:
        stage = waveform_stage(wnet, net, styles, c, wcache, config, style_weights, tally,
                               quiet)
        channel = synthesize_channel(net, targets, content_wave, frames, out_samples, config,
                                     channel_generator(config.seed), tally, quiet, desc, label,
                                     stage)
        return channel, channel.interrupted

    done, _ = each_channel(content, styles, frames, out_samples, config, style_weights, net,
                           tally, quiet, label, run)
    return _result(done, config, tally)


def channel_generator(seed: int) -> torch.Generator:
    """The random stream of one channel's synthesis (its noise start, Griffin-Lim's random
    phase): the same for every channel, so channels that share their content share their
    result, and differ only where their content does. Drawn independently, each channel
    matched the style but their phases were unrelated, so their downmix partly cancelled:
    10 s of guitar copied to both channels, to strings (1024 filters, 60 iterations), came
    out as two channels 1.4x their own norm apart, each closing 0.22 of the held-out style
    gap and their downmix 0.03; drawn alike, the channels are equal and the downmix 0.22."""
    return torch.Generator().manual_seed(seed)


ChannelRun = Callable[[int, dict[str, Tensor], Optional[Tensor], str],
                      tuple[Optional["Channel"], bool]]


def each_channel(content: Optional[Tensor], styles: Sequence[Tensor], frames: int,
                 out_samples: int, config: AudioStyleConfig,
                 style_weights: Optional[Sequence[float]], net: RandomConvBank, tally: Tally,
                 quiet: bool, label: str, run: ChannelRun) -> tuple[list["Channel"], bool]:
    """The per-channel loop of a run: ``run(c, style targets, content channel (1, N) or
    None, progress label)`` for each output channel, returning its :class:`Channel` (None
    on a rank that does not keep it) and whether Ctrl-C stopped it; the channels after a
    stop keep their place unoptimised (:func:`_unoptimised_channel`). Returns the channels
    and whether any run was stopped."""
    channels = content.shape[0] if content is not None else max(s.shape[0] for s in styles)
    device = net.weight(net.kernel_widths[0]).device
    cache: dict[tuple[int, ...], dict[str, Tensor]] = {}
    done: list[Channel] = []
    stopped = False
    for c in range(channels):
        if stopped:
            done.append(_unoptimised_channel(content, c, frames, out_samples, config))
            continue
        with tally.timed("features"):
            targets = _channel_targets(net, styles, c, cache, config, style_weights, quiet)
        desc = label if channels == 1 else f"{label} ch{c + 1}/{channels}"
        content_wave = None if content is None else content[c:c + 1].to(device)  # (1, N)
        channel, stopped = run(c, targets, content_wave, desc)
        if channel is not None:
            done.append(channel)
    return done, stopped


def _result(done: Sequence[Channel], config: AudioStyleConfig, tally: Tally) -> AudioResult:
    """Stack the channels into an :class:`AudioResult` at the working rate (level not yet
    matched): the loss of each channel's last stage, the stages' counts summed."""
    results = [ch.result for ch in done if ch.result is not None]
    terms: dict[str, float] = {}
    for r in results:
        for k, v in r.terms.items():
            terms[k] = terms.get(k, 0.0) + v
    conv = tally.convergences
    return AudioResult(
        waveform=_stack([ch.wave for ch in done]),  # (C, N)
        sample_rate=config.sample_rate,
        spectrogram=_stack([ch.spec for ch in done]),  # (C, F, T)
        history=[ch.history for ch in done], loss=sum(r.loss for r in results), terms=terms,
        iterations=sum(int(r["iterations"]) for r in tally.stages.values()),
        evaluations=sum(int(r["evaluations"]) for r in tally.stages.values()),
        spectral_convergence=float(sum(conv) / len(conv)) if conv else None,
        seconds=tally.seconds, config=config,
        interrupted=any(ch.interrupted for ch in done), stages=tally.stages,
    )


def _stack(parts: Sequence[Tensor]) -> Tensor:
    """``torch.cat`` along channels, without copying a single channel."""
    return parts[0] if len(parts) == 1 else torch.cat(list(parts))


def _finish(result: AudioResult, rate: int, samples: int, target_rms: Tensor,
            quiet: bool = True) -> AudioResult:
    """Resample the result to ``rate``, fit it to ``samples``, and set its level: the one the
    optimisation chose (``config.level == "optimised"``) or ``target_rms``; peak-limited.
    A progress bar over a long resampling unless ``quiet``."""
    if not result.leader:
        return result
    release_freed_memory()  # what the stages before kept: the resampled copy is new memory
    wave = resample(result.waveform, result.sample_rate, rate,
                    progress=None if quiet else f"resampling to {rate} Hz")  # (C, N)
    result.waveform = None  # type: ignore[assignment]  # free the working-rate copy
    if wave.shape[-1] < samples:
        wave = torch.nn.functional.pad(wave, (0, samples - wave.shape[-1]))
    wave = wave[:, :samples]
    if result.config.level == "optimised":
        target_rms = rms(wave)  # (C,): keep it, only limit the peak
    wave = wave.float() if wave.dtype != torch.float32 else wave.contiguous()
    result.waveform = match_level(wave, target_rms, inplace=True)  # (C, N)
    result.sample_rate = rate
    return result


def style_transfer(
    content: Source,
    styles: Sequence[Source],
    config: Optional[AudioStyleConfig] = None,
    *,
    style_weights: Optional[Sequence[float]] = None,
    stereo: bool = False,
    device: str | torch.device = "auto",
    quiet: bool = True,
) -> AudioResult:
    """Audio with the content's structure and the styles' texture.

    Args:
        content: The content recording (any rate, any channel count): an
            :class:`~audiostyle.audio.AudioClip`, or an :class:`~audiostyle.stream.AudioFile`
            (:func:`~audiostyle.stream.open_audio`), whose samples are read straight to the
            working rate without a copy at its own rate.
        styles: One or more style recordings, each used whole (any lengths). An
            :class:`~audiostyle.stream.AudioFile` is read on demand, a block at a time, while
            its Gram matrices are accumulated: an hour-long style costs a few blocks, not the
            file (except with ``autocorr_weight > 0``, whose targets take it whole).
        config: Settings (default: :class:`AudioStyleConfig`, the reference's).
        style_weights: One weight per style (normalised to sum 1; default equal).
        stereo: Process each channel of the content and return as many channels; otherwise
            the content is downmixed and the result is mono.
        device: ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:i"``.
        quiet: Hide the progress bar.

    Returns:
        :class:`AudioResult` with ``waveform`` ``(C, N)`` at the content's rate and length, at
        the level set by ``config.level``.
    """
    config = config or AudioStyleConfig()
    if not styles:
        raise ValueError("style_transfer needs at least one style clip")
    style_weights = normalize_blend_weights(len(styles), style_weights)
    dev = select_device(device)
    c_wave = working_signal(content, config, stereo, "content")  # (C, N)
    s_waves = [working_signal(s, config, stereo, "style", lazy=True) for s in styles]
    frames = config.spectral.frames(c_wave.shape[-1])
    result = _synthesize(c_wave, s_waves, frames, c_wave.shape[-1], config, style_weights, dev,
                         quiet, "style transfer")
    del c_wave, s_waves  # not needed for the level: free them before the resampled copy
    target = source_levels(content, stereo)  # (C,)
    result.extra = {"mode": "transfer", "style_weights": style_weights, "stereo": stereo,
                    "device": str(dev)}
    return _finish(result, content.sample_rate, content.frames, target, quiet)


def texture_synthesis(
    styles: Sequence[Source],
    seconds: float,
    config: Optional[AudioStyleConfig] = None,
    *,
    style_weights: Optional[Sequence[float]] = None,
    stereo: bool = False,
    device: str | torch.device = "auto",
    quiet: bool = True,
) -> AudioResult:
    """New audio of ``seconds`` seconds whose Gram statistics match the styles' (content
    weight 0, from noise: Ulyanov & Lebedev's texture synthesis). ``config``'s content weight
    and ``init`` do not apply: there is no content; ``phase_init`` may be ``"random"`` or
    ``"pghi"`` (``"content"`` means random); ``waveform_init`` may be ``"griffin-lim"`` or
    ``"noise"`` (``"content"`` raises ValueError). ``styles`` as in :func:`style_transfer`
    (clips in memory or files read on demand).

    Returns:
        :class:`AudioResult` at the first style's rate, at the level set by ``config.level``
        (``"content"``: the RMS of the styles, blended
        with ``style_weights``); with ``stereo``, as many channels as the widest style.
    """
    config = config or AudioStyleConfig()
    if not styles:
        raise ValueError("texture_synthesis needs at least one style clip")
    if config.waveform_init == "content":
        raise ValueError("waveform_init 'content' needs a content clip; a texture's waveform "
                         "starts from 'griffin-lim' or 'noise'")
    if not (seconds > 0) or seconds == float("inf"):
        raise ValueError(f"seconds must be positive and finite, got {seconds}")
    style_weights = normalize_blend_weights(len(styles), style_weights)
    out_samples = int(round(seconds * config.sample_rate))
    if out_samples < config.min_samples:
        raise ValueError(f"a texture of {seconds} s is shorter than the network's receptive "
                         f"field of {config.min_samples / config.sample_rate:.3f} s")
    dev = select_device(device)
    s_waves = [working_signal(s, config, stereo, "style", lazy=True) for s in styles]
    frames = config.spectral.frames(out_samples)
    phase_init = "random" if config.phase_init == "content" else config.phase_init  # no content
    config = dataclasses.replace(config, content_weight=0.0, init="noise", phase_init=phase_init)
    result = _synthesize(None, s_waves, frames, out_samples, config,
                         style_weights, dev, quiet, "texture")
    channels = result.waveform.shape[0]
    levels = torch.stack([
        source_levels(s, stereo)[:channels] if stereo and s.channels >= channels else
        source_levels(s, False).expand(channels) for s in styles])  # (S, C)
    target = (torch.tensor(style_weights).unsqueeze(-1) * levels).sum(0)  # (C,)
    rate = styles[0].sample_rate
    result.extra = {"mode": "texture", "style_weights": style_weights, "stereo": stereo,
                    "seconds_requested": seconds, "device": str(dev)}
    return _finish(result, rate, int(round(seconds * rate)), target, quiet)


__all__ = ["AudioResult", "WAVEFORM_EPS", "chunked_grams", "style_grams", "style_transfer",
           "texture_synthesis", "wave_grams", "waveform_loss", "working_signal"]
