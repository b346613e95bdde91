"""Audio of any length in bounded memory: the stages in overlapping windows.

A spectrogram longer than ``window_frames`` is cut into windows of at most that many frames
(:func:`plan_windows`), consecutive windows sharing at least ``config.overlap`` (more than the
widest receptive field, and than the frames one STFT frame's samples touch). Memory is then
that of one window (features, L-BFGS memory, Griffin-Lim state), whatever the length; the full
spectrogram and waveform are the only whole-length arrays, on the CPU.

* **Style transfer** (:func:`join_transfer`): each window is optimised on its own, with the
  one global style target and its own content target (the content's frames of that window),
  so windows can run on different processes and devices (:mod:`audiostyle.parallel`). The
  optimised log spectrograms are joined with linear crossfades over the overlaps
  (:class:`Crossfade`).
* **Texture synthesis** (:func:`texture_windows`): windows are chained; each continues the
  previous one behind a few of its frames held fixed, so the texture flows across the joins.
* **Griffin-Lim** runs in blocks of the same plan (:func:`griffin_lim_blocks`): each block
  starts with the previous block's final phase on the overlap frames and holds it there, so in
  the overlap's interior both blocks give the same samples and the crossfade is exact.
* **The waveform stage** is chained over the samples the same way (:func:`refine_windows`).

A plan of one window is a short input: :func:`join_transfer` and :func:`texture_windows` then
run the reference's whole-clip optimisation (:mod:`audiostyle.pipeline` takes the whole-clip
reconstruction and waveform stage for it). The joins' spectral flux and the windows' held-out
quality are measured in ``docs/long-audio.md``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import torch
from torch import Tensor

from shared import OptimResult

from .config import AudioStyleConfig
from .dsp import soft_limit, soft_limit_start, start_gain
from .pghi import pghi
from .spectral import Spectral, log_to_magnitude
from .stages import (ChannelJob, Noise, Run, optimise_spectrogram, optimise_waveform,
                     start_spectrogram)

Span = tuple[int, int]


def plan_windows(frames: int, window: int, overlap: int) -> list[Span]:
    """Windows ``[(start, stop), ...]`` covering ``frames`` frames: one window if it fits,
    else the fewest windows of ``window`` frames, evenly spaced, the first starting at 0 and
    the last ending at ``frames``, consecutive ones sharing at least ``overlap`` frames."""
    if not 0 <= overlap < window:
        raise ValueError(f"overlap must be in [0, window), got overlap {overlap}, "
                         f"window {window}")
    if frames <= window:
        return [(0, frames)]
    count = 1 + math.ceil((frames - window) / (window - overlap))
    starts = [round(i * (frames - window) / (count - 1)) for i in range(count)]
    return [(a, a + window) for a in starts]


def blocks(frames: int, size: int) -> list[Span]:
    """Disjoint consecutive spans of at most ``size`` frames covering ``frames`` frames."""
    return [(a, min(a + size, frames)) for a in range(0, frames, size)]


def _ramp_weights(spans: Sequence[Span], i: int) -> Tensor:
    """Window ``i``'s crossfade weight over its frames ``(stop - start,)``: rising linearly
    over its overlap with the previous window, falling over its overlap with the next one,
    1 elsewhere (positive everywhere)."""
    a, b = spans[i]
    w = torch.ones(b - a)
    if i > 0 and spans[i - 1][1] > a:
        n = spans[i - 1][1] - a
        w[:n] = torch.minimum(w[:n], (torch.arange(n) + 0.5) / n)
    if i + 1 < len(spans) and spans[i + 1][0] < b:
        n = b - spans[i + 1][0]
        w[-n:] = torch.minimum(w[-n:], (n - torch.arange(n) - 0.5) / n)
    return w


class Crossfade:
    """Window spectrograms joined as they come into one ``(1, F, frames)`` (CPU): a weighted
    mean with :func:`_ramp_weights`, so each overlap fades linearly from one window into the
    next; memory of the result only, not of every window kept until the end."""

    def __init__(self, spans: Sequence[Span], bins: int) -> None:
        self.spans = list(spans)
        self.out = torch.zeros(1, bins, self.spans[-1][1])
        self.total = torch.zeros(self.spans[-1][1])
        self.added: set[int] = set()

    def add(self, i: int, part: Tensor) -> None:
        """Window ``i``'s log spectrogram ``(1, F, stop - start)``."""
        a, b = self.spans[i]
        w = _ramp_weights(self.spans, i)  # (n,)
        self.out[..., a:b] += part.to("cpu", torch.float32) * w
        self.total[a:b] += w
        self.added.add(i)

    def result(self) -> Tensor:
        """The joined ``(1, F, frames)`` (every window must have been added)."""
        return self.out.div_(self.total)


def join_windows(parts: Sequence[Tensor], spans: Sequence[Span]) -> Tensor:
    """Crossfade window spectrograms (each ``(1, F, stop - start)``) into one
    ``(1, F, spans[-1][1])`` (:class:`Crossfade`)."""
    fade = Crossfade(spans, parts[0].shape[1])
    for i, part in enumerate(parts):
        fade.add(i, part)
    return fade.result()


def content_frames(content_wave: Tensor, span: Span, config: AudioStyleConfig) -> Tensor:
    """The content's log spectrogram over the frames ``span``: ``(1, F, stop - start)``,
    equal to those frames of the whole content's (:func:`audiostyle.spectral.stft_frames`;
    the whole content's own when ``span`` covers it)."""
    a, b = span
    if a == 0 and b == config.spectral.frames(content_wave.shape[-1]):
        return config.spectral.log(content_wave)
    return config.spectral.log_frames(content_wave, a, b)


@dataclass
class BlockSums:
    """Sums over a blocked reconstruction's frames, for its level and spectral convergence:
    ``target = sum |S|^2``, ``rebuilt = sum |X|^2``, ``cross = sum |S| |X|``."""

    target: float = 0.0
    rebuilt: float = 0.0
    cross: float = 0.0

    def scale(self) -> float:
        """The gain that gives the reconstruction the target's norm (1 when silent)."""
        return math.sqrt(self.target / self.rebuilt) if self.rebuilt > 0 else 1.0

    def convergence(self, gain: float) -> float:
        """Spectral convergence of the reconstruction scaled by ``gain``."""
        if self.target == 0:
            return 0.0
        err = self.target - 2 * gain * self.cross + gain * gain * self.rebuilt
        return math.sqrt(max(err, 0.0) / self.target)


def griffin_lim_blocks(
    spec: Tensor,
    out_samples: int,
    config: AudioStyleConfig,
    device: torch.device,
    content_wave: Optional[Tensor] = None,
    progress: Optional[Callable[[int], None]] = None,
    noise: Optional[Noise] = None,
) -> tuple[Tensor, float]:
    """Griffin-Lim of a long log spectrogram ``(1, F, T)`` (CPU) in the blocks of
    :func:`plan_windows`, at the level ``config.level`` asks for.

    Each block holds the previous block's final phase on their overlap frames
    (``fixed_frames`` of :func:`audiostyle.spectral.griffin_lim`); the blocks' samples are
    crossfaded over the overlap's interior, away from the samples that the overlap's
    first and last frames share with frames outside it.

    Block ``i`` draws its random phase from window ``i``'s stream of ``noise`` (default: the
    seed's :class:`audiostyle.stages.Noise` over these blocks).

    Returns:
        The waveform ``(1, out_samples)`` on the CPU and its spectral convergence.
    """
    frames, spectral = spec.shape[-1], config.spectral
    hop, n_fft, rec = config.front.hop, config.front.n_fft, config.reconstruction
    spans = plan_windows(frames, config.windows.window_frames, config.overlap)
    noise = noise or Noise(config.seed, len(spans))
    out = torch.zeros(1, out_samples)
    held: Optional[Tensor] = None  # (1, F, overlap) phase of the previous block's last frames
    edge = n_fft // 2 + hop  # samples at each end of an overlap that other frames touch
    prev_stop = 0
    for i, (a, b) in enumerate(spans):
        mag = log_to_magnitude(spec[..., a:b]).to(device)  # (1, F, n)
        start = (torch.rand(mag.shape, generator=noise.window(i)) * 2 - 1) * math.pi  # (1, F, n)
        if rec.phase_init == "content" and content_wave is not None:
            start = spectral.frames_of(content_wave, a, b).angle().cpu()
        elif rec.phase_init == "pghi":
            start = pghi(mag.cpu(), n_fft, hop)  # (1, F, n)
        fixed = 0
        if held is not None:
            fixed = prev_stop - a
            start[..., :fixed] = held[..., -fixed:]
        lo, hi = a * hop, min((b - 1) * hop, out_samples) if b < frames else out_samples
        angles = spectral.griffin_lim_phase(mag, rec.griffin_lim_iters, rec.momentum,
                                            length=hi - lo, init_phase=start.to(device),
                                            fixed_frames=fixed)  # (1, F, n) unit complex
        wave = spectral.inverse(mag * angles, hi - lo).cpu()  # (1, hi - lo)
        held = angles.angle().cpu()  # (1, F, n)
        if i == 0:
            out[:, lo:hi] = wave
        else:
            f_lo, f_hi = lo + edge, prev_stop * hop - hop - edge  # crossfade samples
            fade = torch.linspace(0.0, 1.0, max(f_hi - f_lo, 0) + 2)[1:-1]
            out[:, f_lo:f_hi] = out[:, f_lo:f_hi] * (1 - fade) + wave[:, f_lo - lo:f_hi - lo] * fade
            out[:, f_hi:hi] = wave[:, f_hi - lo:]
        prev_stop = b
        if progress is not None:
            progress(1)
    return _level(out, spec, config)


def _level(wave: Tensor, spec: Tensor, config: AudioStyleConfig) -> tuple[Tensor, float]:
    """``wave`` ``(1, N)`` at the optimised level (``config.level="optimised"``) and its
    spectral convergence against ``spec`` ``(1, F, T)``, both summed block by block."""
    sums = BlockSums()
    for a, b in blocks(spec.shape[-1], config.windows.window_frames):
        target = log_to_magnitude(spec[..., a:b])  # (1, F, n)
        rebuilt = config.spectral.frames_of(wave, a, b).abs()  # (1, F, n)
        sums.target += float(target.double().square().sum())
        sums.rebuilt += float(rebuilt.double().square().sum())
        sums.cross += float((target.double() * rebuilt.double()).sum())
    gain = sums.scale() if config.level == "optimised" else 1.0
    return wave.mul_(gain), sums.convergence(gain)


def spectral_flux(wave: Tensor, spectral: Spectral) -> Tensor:
    """Frame-to-frame change of a signal's log spectrum: ``(1, N)`` -> ``(T - 1,)``, entry
    ``t`` the L2 norm of ``log1p|X_{t+1}| - log1p|X_t|`` (computed block by block)."""
    frames = spectral.frames(wave.shape[-1])
    out = []
    for a, b in blocks(frames - 1, 4096):  # differences a..b-1 need frames a..b
        s = spectral.log_frames(wave, a, b + 1)  # (1, F, n + 1)
        out.append(torch.linalg.vector_norm(s[..., 1:] - s[..., :-1], dim=-2)[0])
    return torch.cat(out)


def seam_flux(wave: Tensor, spans: Sequence[Span], spectral: Spectral,
              reach: int = 2) -> tuple[float, float]:
    """How audible the joins of a windowed result are: the largest spectral flux
    (:func:`spectral_flux`) within ``reach`` frames of where an overlap begins or ends, and
    the file's 99th percentile of flux. A join is seamless when the first is no higher."""
    flux = spectral_flux(wave, spectral)  # (T - 1,)
    edges = [e for i in range(1, len(spans)) for e in (spans[i][0], spans[i - 1][1] - 1)]
    near = [t for e in edges for t in range(e - reach - 1, e + reach + 1) if 0 <= t < len(flux)]
    seam = float(flux[near].max()) if near else 0.0
    return seam, float(torch.quantile(flux, 0.99))


def combine_results(results: Sequence[OptimResult], variable: Tensor) -> OptimResult:
    """One :class:`shared.OptimResult` for a channel optimised in windows: losses, terms,
    counts and times summed over the windows, ``history`` summed per iteration (over the
    windows that reached it), ``interrupted`` if any window was."""
    terms: dict[str, float] = {}
    for r in results:
        for k, v in r.terms.items():
            terms[k] = terms.get(k, 0.0) + v
    history: list[dict[str, float]] = []
    for r in results:
        for j, h in enumerate(r.history):
            if j == len(history):
                history.append({})
            for k, v in h.items():
                history[j][k] = history[j].get(k, 0.0) + v
    return OptimResult(
        variable=variable, loss=sum(r.loss for r in results), terms=terms, history=history,
        iterations=max((r.iterations for r in results), default=0),
        evaluations=sum(r.evaluations for r in results),
        interrupted=any(r.interrupted for r in results),
        converged=all(r.converged for r in results) if results else False,
        restarts=sum(r.restarts for r in results), seconds=sum(r.seconds for r in results))




def window_desc(desc: str, i: int, count: int) -> str:
    """The progress label of window ``i`` of ``count`` (``desc`` itself for one window)."""
    return desc if count == 1 else f"{desc} window {i + 1}/{count}"


def run_plan(run: Run) -> list[Span]:
    """The windows of the run's spectrogram (:func:`plan_windows`)."""
    return plan_windows(run.frames, run.config.windows.window_frames, run.config.overlap)


def transfer_windows(run: Run, job: ChannelJob, spans: Sequence[Span], mine: Sequence[int],
                     keep: Callable[[int, Tensor], None]) -> dict[int, OptimResult]:
    """Optimise the windows ``mine`` of a style transfer's channel, each on its own: the
    global style Grams, the content's frames of that window as its content target and (with
    ``init="content"``) its start. ``keep(index, log spectrogram (1, F, n) on the CPU)`` takes
    each window optimised (the interrupted one at its best).

    Returns:
        ``{index: OptimResult}`` (its ``variable`` released) of the windows done; after
        Ctrl-C, those done so far.
    """
    done: dict[int, OptimResult] = {}
    assert job.content is not None
    for i in mine:
        a, b = spans[i]
        with run.tally.timed("features"):
            content_spec = content_frames(job.content, spans[i], run.config)  # (1, F, n)
        objective = run.objective("spectrogram", job, content_spec)
        x0 = start_spectrogram(run, job, content_spec, b - a, window=i)
        result = optimise_spectrogram(run, job, objective, x0,
                                      window_desc(job.desc, i, len(spans)), window=i)
        keep(i, result.variable.detach().cpu())
        result.variable = torch.empty(0)
        done[i] = result
        run.tick(1)
        if result.interrupted:
            break
    return done


def join_transfer(run: Run, job: ChannelJob, spans: Sequence[Span]
                  ) -> tuple[Optional[Tensor], Optional[OptimResult], bool]:
    """A transfer channel's windows, shared between the ranks (window ``i`` on rank
    ``i % world``), joined on rank 0; windows not optimised after Ctrl-C take the content's
    own frames. Returns the log spectrogram ``(1, F, T)`` (CPU) and the combined
    :class:`shared.OptimResult` on rank 0 (None, None on the others) and whether Ctrl-C
    stopped any rank."""
    workers = run.workers
    fade = Crossfade(spans, run.config.bins) if len(spans) > 1 else None
    parts: dict[int, Tensor] = {}  # kept for rank 0 when the work is shared
    keep = fade.add if fade is not None and workers.world == 1 else parts.__setitem__
    done = transfer_windows(run, job, spans, workers.share(len(spans)), keep)
    stopped = workers.any(any(r.interrupted for r in done.values()))
    gathered = workers.gather((parts, done))
    if gathered is None:
        return None, None, stopped
    results = dict(done)
    for their_parts, their_done in gathered:
        for i, part in their_parts.items():
            fade.add(i, part) if fade is not None else parts.__setitem__(i, part)
        for i, r in their_done.items():
            if i not in done:  # another rank's window: its counts, not its time
                run.tally.add("spectrogram", r, wall=False)
                results[i] = r
    if fade is None:
        spec = parts[0]
    else:
        for i, span in enumerate(spans):
            if i not in fade.added:
                fade.add(i, content_frames(job.content, span, run.config).cpu())
        spec = fade.result()
    return spec, combine_results([results[i] for i in sorted(results)], spec), stopped


def texture_windows(run: Run, job: ChannelJob,
                    spans: Sequence[Span]) -> tuple[Tensor, OptimResult]:
    """A texture channel in chained windows. Returns the log spectrogram ``(1, F, frames)``
    (CPU; frames after a Ctrl-C stay 0, silence) and the combined :class:`shared.OptimResult`.

    The first window is the reference's texture synthesis. Each later window optimises its
    new frames together with the previous window's last ``k - 1`` frames (``k`` the widest
    kernel: fewer kernel positions covered them, so they are the least settled), behind
    ``k - 1`` fixed frames before those, so that every kernel position sees new material and
    the texture continues across the join. Its new frames start as frames drawn at random
    from the texture made so far (plus the reference's noise), not from noise alone: Gram
    matching lets a few loud frames stand in for many silent ones, and new frames starting
    near silence beside frames already at the style's level stayed near silence
    (``docs/long-audio.md``).
    """
    config, device = run.config, run.device
    width = run.nets["spectrogram"].receptive_frames
    spec = torch.zeros(1, config.bins, run.frames)
    objective = run.objective("spectrogram", job, None)
    results: list[OptimResult] = []
    made = 0  # frames synthesised so far
    for i, (a, b) in enumerate(spans):
        # Re-optimise the previous window's last `redo` frames with the new ones, behind
        # `context` fixed frames: just enough that every kernel position touches a frame
        # being optimised (a long fixed prefix would already match the style and leave the
        # new frames with vanishing gradients).
        redo = min(made - a, width - 1) if made > a else 0
        keep = made - redo  # frames before `keep` are fixed
        context = min(keep, width - 1) if made > a else 0
        prefix = spec[..., keep - context:keep].to(device) if context else None
        x0 = start_spectrogram(run, job, None, b - made, window=i)
        if made > a and config.optim.init != "shaped":
            # new frames start as frames drawn at random from the texture so far (a shaped
            # start is at the style's level already)
            idx = torch.randint(0, made, (b - made,), generator=job.noise.draws(i))
            x0 = x0 + spec[..., idx].to(device)  # (1, F, b - made)
        if redo:
            x0 = torch.cat([spec[..., keep:made].to(device), x0], dim=-1)  # (1, F, b - keep)
        result = optimise_spectrogram(run, job, objective, x0,
                                      window_desc(job.desc, i, len(spans)), prefix, window=i)
        results.append(result)
        spec[..., keep:b] = result.variable.detach().cpu()
        result.variable = torch.empty(0)  # held in `spec`
        made = b
        run.tick(1)
        if result.interrupted:
            break
    return spec, combine_results(results, spec)


def refine_windows(run: Run, job: ChannelJob, wave: Tensor) -> tuple[Tensor, OptimResult]:
    """The waveform stage in chained windows over the samples of ``wave`` ``(1, N)``: each
    window optimises its samples behind fixed context samples already refined (the frames of
    the widest kernel and one STFT frame's span), re-optimising the previous window's last
    frames (its edge), under the global style Grams and, for a transfer, the content's
    features over the same samples. Returns the refined waveform ``(1, N)`` (CPU) and the
    combined :class:`shared.OptimResult`."""
    config, device = run.config, run.device
    spectral, hop = config.spectral, config.front.hop
    spans = plan_windows(spectral.frames(wave.shape[-1]), config.windows.window_frames,
                         config.overlap)
    edge = (run.nets["waveform"].receptive_frames - 1) * hop + config.front.n_fft
    wave = wave.cpu()
    gain = start_gain(wave)  # the loss hears every window at the start's level
    out, results, made = soft_limit(soft_limit_start(wave)), [], 0  # under full scale
    for i, (a, b) in enumerate(spans):
        start = 0 if i == 0 else max(a * hop, made - edge)
        stop = wave.shape[-1] if i == len(spans) - 1 else b * hop
        context = max(0, start - edge)
        _level_new_samples(out, made, stop)
        prefix = out[:, context:start].to(device)  # (1, start - context), fixed
        content_spec = (None if job.content is None else
                        spectral.log(job.content[:, context:stop]))  # (1, F, n)
        objective = run.objective("waveform", job, content_spec)
        result = optimise_waveform(run, job, objective,
                                   soft_limit_start(out[:, start:stop].to(device)).contiguous(),
                                   window_desc(job.desc, i, len(spans)), prefix, window=i,
                                   gain=gain)
        out[:, start:stop] = soft_limit(result.variable.detach()).cpu()
        result.variable = torch.empty(0)  # held in `out`
        results.append(result)
        made = stop
        run.tick(1)
        if result.interrupted:
            break
    return out, combine_results(results, out)


def _level_new_samples(out: Tensor, made: int, stop: int) -> None:
    """Bring samples ``made:stop`` of ``out`` ``(1, N)`` that are still far quieter than the
    refined samples before them (a noise start) to their RMS, in place: Gram matching lets
    a few loud samples stand in for many quiet ones, so new material starting near silence
    beside refined material stayed quiet (``docs/long-audio.md``)."""
    if made == 0:
        return
    before = out[:, max(0, made - (stop - made)):made].square().mean().sqrt()
    new = out[:, made:stop].square().mean().sqrt()
    if 0 < new < 0.1 * before:
        out[:, made:stop] *= before / new


__all__ = ["BlockSums", "Crossfade", "Span", "blocks", "combine_results", "content_frames",
           "griffin_lim_blocks", "join_transfer", "join_windows", "plan_windows",
           "refine_windows", "run_plan", "seam_flux", "spectral_flux", "texture_windows",
           "transfer_windows", "window_desc"]
