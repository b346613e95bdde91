"""The Python API: audio style transfer and audio texture synthesis (Ulyanov & Lebedev 2016).

:func:`style_transfer` keeps the content's structure (its features) with the styles' texture
(their Gram matrices); :func:`texture_synthesis` matches the Gram matrices alone, for a clip of
any length. Both bring their inputs to the working rate, run the pipeline
(:func:`audiostyle.pipeline.synthesize`: the spectrogram stage, Griffin-Lim, and in the
waveform domain the waveform stage) and bring the result back to the input's rate and level.

.. note:: Beyond the reference: the content is used at full length and each style whole (the
   Gram is normalised by frame count, so no crop to 430 frames); several styles are blended;
   several kernel widths may be used; stereo content may be processed channel by channel; any
   sample rate is resampled to the working rate and the result back; the result is written
   at the level the optimisation chose (``level="optimised"``: Griffin-Lim's output scaled to
   the optimised magnitude's norm) instead of peak-normalised, and never clipped;
   ``level="content"`` matches the content's RMS (the styles' for textures) instead.
"""

from __future__ import annotations

import math
from typing import Callable, Optional, Sequence

import torch
from torch import Tensor

from shared import normalize_blend_weights, release_freed_memory, select_device

from .bands import (blended_shares, level_modulation, missing_share, noise_flatness,
                    out_of_band_share, peak_share)
from .config import AudioStyleConfig
from .dsp import downmix, match_level, resample, rms
from .memory import check as check_memory
from .parallel import Workers
from .pipeline import AudioResult, new_run, synthesize
from .stages import StageCallback
from .stream import AudioFile, Source, check_length, working_view
from .targets import Wave


def working_signal(source: Source, config: AudioStyleConfig, stereo: bool, what: str,
                   lazy: bool = False) -> Wave:
    """``source`` at the working rate, downmixed unless ``stereo``: ``(C, N)``; with ``lazy``
    and a file read on demand (:class:`audiostyle.stream.AudioFile`), a
    :class:`audiostyle.stream.ResampledFile` view of it, else a tensor (a file's filled block
    by block, without its samples at their own rate).

    Raises ``ValueError`` (naming the file) if it is shorter than the network's receptive
    field.
    """
    rate = config.front.sample_rate
    check_length(source, config.min_samples, rate, what)
    view = working_view(source, rate, mono=not stereo)  # (C, N')
    return view if lazy or isinstance(view, Tensor) else view.tensor()


def working_samples(source: Source, config: AudioStyleConfig) -> int:
    """Samples of ``source`` at the working rate (as :func:`working_signal` will give)."""
    return math.floor(source.frames * config.front.sample_rate / source.sample_rate)


# waveform_init="auto" starts a transfer's waveform stage from the content's samples only when
# the content and the styles share their bands: at most CONTENT_OUTSIDE_MAX of the content's
# energy in bands where the styles have none (from the content, L-BFGS on the samples keeps
# it: a guitar under organ chords, 34 % outside, kept 31 %) and at most STYLE_MISSING_MAX of
# the styles' where the content has none (it cannot be made from nothing). init="auto" starts
# the spectrogram stage on the same measurement: from the content's spectrogram when the bands
# are shared (piano under strings: 0.786 of the held-out gap against 0.694 from noise, 200
# iterations on 2048 filters), else from noise, the reference's (guitar under organ chords:
# 0.898 against 0.862). Measurements: docs/presets.md, "The fast preset's start".
CONTENT_OUTSIDE_MAX = 0.25
STYLE_MISSING_MAX = 0.5
RULE_SECONDS = 60.0  # the band statistics read at most this much of each input
# waveform_init="auto" starts a texture from noise shaped like the styles' long-term spectrum
# when they are noise-like (blended noise_flatness over NOISE_FLATNESS: that start is nearly
# the texture already), else after a short spectrogram stage and Griffin-Lim, which build the
# tones, harmonics and onsets a stationary noise lacks. On 19 styles the start this picks was
# the closer one by the held-out network, or tied, on 16 (docs/presets.md, "The texture
# presets' start").
NOISE_FLATNESS = 0.33
# ... unless their level swings at rhythmic rates (blended level_modulation over
# LEVEL_MODULATION_MAX: a tremolo, pulses), which the steady shaped noise lacks and 40
# iterations on the samples do not build: pink noise under a 4 Hz tremolo of 90 % (0.53)
# closed 0.836 of the held-out gap from the shaped start, 0.895 after the spectrogram stage
# (the notebook 0.876). Noise under shallower or faster tremolos (0.19-0.29: applause, an
# engine, 8 Hz pulses) stayed closer from the shaped start (docs/presets.md, "The texture
# presets' start").
LEVEL_MODULATION_MAX = 0.4


def _heads(waves: Sequence[Wave], rate: int) -> list[Tensor]:
    """The first :data:`RULE_SECONDS` of each ``(C, N)`` wave at ``rate``, downmixed:
    ``(1, n_i)`` each."""
    n = int(RULE_SECONDS * rate)
    return [downmix(w[..., 0:min(w.shape[-1], n)]) for w in waves]


def _blended(measure: Callable[[Tensor, int], float], heads: Sequence[Tensor],
             weights: Sequence[float], rate: int) -> float:
    """``measure(head, rate)`` of each style's head, blended with ``weights``."""
    w = normalize_blend_weights(len(heads), weights)
    return sum(wt * measure(s, rate) for wt, s in zip(w, heads))


def settle_starts(config: AudioStyleConfig, content: Optional[Wave], styles: Sequence[Wave],
                  weights: Sequence[float]) -> tuple[AudioStyleConfig, dict[str, object]]:
    """``config`` with its ``"auto"`` starts settled from the inputs at the working rate
    (``(C, N)`` each; a texture's ``content`` is None). In a transfer both read one
    measurement, whether the content and the styles hold their energy in the same bands
    (:data:`CONTENT_OUTSIDE_MAX`, :data:`STYLE_MISSING_MAX`): if so ``waveform_init="auto"``
    becomes ``"content"`` and ``init="auto"`` (the spectrogram stage's) ``"content"``, else
    ``"griffin-lim"`` and ``"noise"``. For a texture ``waveform_init="auto"`` becomes
    ``"shaped"`` (:func:`audiostyle.stages.start_samples`) when the styles are noise-like
    (:data:`NOISE_FLATNESS`) and steady (:data:`LEVEL_MODULATION_MAX`), else
    ``"griffin-lim"``.
    Returns the config and what was measured and chosen (``waveform_start``,
    ``spectrogram_start``; nothing when no start is ``"auto"``)."""
    waveform_auto = config.waveform is not None and config.waveform.init == "auto"
    rate = config.front.sample_rate
    if content is None:
        if not waveform_auto:
            return config, {}
        heads = _heads(styles, rate)
        flatness = _blended(noise_flatness, heads, weights, rate)
        modulation = _blended(level_modulation, heads, weights, rate)
        shaped = flatness > NOISE_FLATNESS and modulation <= LEVEL_MODULATION_MAX
        start = "shaped" if shaped else "griffin-lim"
        return config.replace(waveform_init=start), {
            "waveform_start": start, "style_noise_flatness": flatness,
            "style_level_modulation": modulation}
    if not (waveform_auto or config.optim.init == "auto"):
        return config, {}
    c, *ss = _heads([content, *styles], rate)  # (1, n) each
    rates = [rate] * len(ss)
    outside = out_of_band_share(c, rate, ss, rates, weights)
    missing = missing_share(c, rate, ss, rates, weights)
    shared = outside <= CONTENT_OUTSIDE_MAX and missing <= STYLE_MISSING_MAX
    settled: dict[str, object] = {}
    if waveform_auto:
        settled["waveform_start"] = "content" if shared else "griffin-lim"
        config = config.replace(waveform_init=settled["waveform_start"])
    if config.optim.init == "auto":
        settled["spectrogram_start"] = "content" if shared else "noise"
        config = config.replace(init=settled["spectrogram_start"])
    return config, {**settled, "content_outside_style_bands": outside,
                    "style_outside_content_bands": missing}


# A run takes its config's tonal route (audiostyle.presets.TONAL_ROUTES) when the blended styles
# hold more than TONAL_SHARE of their energy in their three strongest third-octave bands: two
# sines, a phone ring and a whistle hold over 0.997, every other style measured at most 0.885
# (a melodic ring tone; docs/presets.md, "A route for tonal styles").
TONAL_SHARE = 0.95
# A texture takes it only when the styles' level is also steady (blended level_modulation at
# most LEVEL_MODULATION_MAX): best's texture route drops the rhythm term, which moved a steady
# whistled tune away from the style (0.626 held-out with it, 0.102 without; the notebook
# 0.106) but rebuilds a pulsed phone ring's pulses (0.374 with it, 0.845 without; the notebook
# 0.836). docs/presets.md, "A route for tonal styles".


def settle_route(config: AudioStyleConfig, styles: Sequence[Wave], weights: Sequence[float],
                 texture: bool = False) -> tuple[AudioStyleConfig, dict[str, object]]:
    """``config`` without its tonal route: the route itself when the styles (``(C, N)`` each,
    at the working rate) are narrow-band tonal (:data:`TONAL_SHARE`) and, for a ``texture``,
    steady (:data:`LEVEL_MODULATION_MAX`), else ``config``. Returns the config and what was
    measured (nothing when there is no tonal route)."""
    if config.tonal is None:
        return config, {}
    rate = config.front.sample_rate
    ss = _heads(styles, rate)
    share = peak_share(blended_shares(ss, [rate] * len(ss), weights))
    tonal = share > TONAL_SHARE
    measured: dict[str, object] = {"style_peak_band_share": share}
    if texture:
        modulation = _blended(level_modulation, ss, weights, rate)
        tonal = tonal and modulation <= LEVEL_MODULATION_MAX
        measured["style_level_modulation"] = modulation
    return (config.tonal if tonal else config.replace(tonal=None)), {
        "route": "tonal" if tonal else "main", **measured}


def _read_styles(config: AudioStyleConfig, styles: Sequence[Source], stereo: bool,
                 weights: Sequence[float], texture: bool = False
                 ) -> tuple[AudioStyleConfig, list[Wave], dict]:
    """The styles at the working rate (:func:`working_signal`, read on demand) and the config
    of the route they settle (:func:`settle_route`), before the memory is estimated: the
    estimate is of the route that runs."""
    waves = [working_signal(s, config, stereo, "style", lazy=True) for s in styles]
    config, route = settle_route(config, waves, weights, texture)
    return config, waves, route


def source_levels(source: Source, stereo: bool) -> Tensor:
    """RMS level of ``source`` per channel ``(C,)`` with ``stereo``, else of its downmix
    ``(1,)``."""
    if isinstance(source, AudioFile):
        return source.levels if stereo else source.mono_level
    return rms(source.samples if stereo else downmix(source.samples))


def _finish(result: AudioResult, rate: int, samples: int, target_rms: Tensor,
            quiet: bool = True) -> AudioResult:
    """Resample the result to ``rate``, fit it to ``samples``, and set its level: the one the
    optimisation chose (``level="optimised"``) or ``target_rms``; peak-limited. A progress
    bar over a long resampling unless ``quiet``."""
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
    callback: Optional[StageCallback] = None,
    workers: Optional[Workers] = None,
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
        quiet: Hide the progress bars.
        callback: Called with an :class:`audiostyle.stages.StageStep` after every iteration
            of every stage (stage, channel, window, iteration, loss and a copy of the point).
        workers: This process's place in a torch.distributed group that shares a long
            transfer's windows (:func:`audiostyle.parallel.current`); default: one process.

    Returns:
        :class:`AudioResult` with ``waveform`` ``(C, N)`` at the content's rate and length, at
        the level set by ``config.level``.
    """
    config = config or AudioStyleConfig()
    if not styles:
        raise ValueError("style_transfer needs at least one style clip")
    style_weights = normalize_blend_weights(len(styles), style_weights)
    dev = select_device(device)
    config, s_waves, route = _read_styles(config, styles, stereo, style_weights)
    samples = working_samples(content, config)
    check_memory(config, samples, content.channels if stereo else 1,
                 [working_samples(s, config) for s in styles], content.frames, dev,
                 f"a content of {content.seconds:.0f} s", "a shorter content")
    c_wave = working_signal(content, config, stereo, "content")  # (C, N)
    config, start = settle_starts(config, c_wave, s_waves, style_weights)
    run = new_run(config, s_waves, style_weights, config.spectral.frames(c_wave.shape[-1]),
                  c_wave.shape[-1], dev, quiet=quiet, label="style transfer",
                  workers=workers or Workers(), callback=callback)
    result = synthesize(run, c_wave, c_wave.shape[0])
    del c_wave, s_waves, run  # not needed for the level: free them before the resampled copy
    target = source_levels(content, stereo)  # (C,)
    result.extra = {"mode": "transfer", "style_weights": style_weights, "stereo": stereo,
                    "device": str(dev), **route, **start}
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
    callback: Optional[StageCallback] = None,
    workers: Optional[Workers] = None,
) -> AudioResult:
    """New audio of ``seconds`` seconds whose Gram statistics match the styles' (content
    weight 0, from noise: Ulyanov & Lebedev's texture synthesis). ``config``'s content weight
    and ``init`` do not apply: there is no content; ``phase_init`` may be ``"random"`` or
    ``"pghi"`` (``"content"`` means random); ``waveform_init`` anything but ``"content"``
    (ValueError; ``"auto"``: :func:`settle_starts`). ``styles``, ``callback`` and
    ``workers`` as in :func:`style_transfer` (a texture's windows are chained: rank 0).

    Returns:
        :class:`AudioResult` at the first style's rate, at the level set by ``config.level``
        (``"content"``: the RMS of the styles, blended with ``style_weights``); with
        ``stereo``, as many channels as the widest style.
    """
    config = config or AudioStyleConfig()
    if not styles:
        raise ValueError("texture_synthesis needs at least one style clip")
    if config.waveform is not None and config.waveform.init == "content":
        raise ValueError("waveform_init 'content' needs a content clip; a texture's waveform "
                         "starts from 'griffin-lim', 'noise', 'shaped' or 'auto'")
    if not (seconds > 0) or seconds == float("inf"):
        raise ValueError(f"seconds must be positive and finite, got {seconds}")
    style_weights = normalize_blend_weights(len(styles), style_weights)
    out_samples = int(round(seconds * config.front.sample_rate))
    if out_samples < config.min_samples:
        raise ValueError(f"a texture of {seconds} s is shorter than the network's receptive "
                         f"field of {config.min_samples / config.front.sample_rate:.3f} s")
    dev = select_device(device)
    rate = styles[0].sample_rate
    config, s_waves, route = _read_styles(config, styles, stereo, style_weights, texture=True)
    check_memory(config, out_samples, max(s.channels for s in styles) if stereo else 1,
                 [working_samples(s, config) for s in styles], int(round(seconds * rate)), dev,
                 f"seconds {seconds:g}", "seconds")
    phase_init = "random" if config.reconstruction.phase_init == "content" \
        else config.reconstruction.phase_init  # no content
    init = "noise" if config.optim.init in ("content", "auto") else config.optim.init  # no content
    config = config.replace(content_weight=0.0, init=init, phase_init=phase_init)
    config, start = settle_starts(config, None, s_waves, style_weights)
    run = new_run(config, s_waves, style_weights, config.spectral.frames(out_samples),
                  out_samples, dev, quiet=quiet, label="texture", workers=workers or Workers(),
                  callback=callback)
    result = synthesize(run, None, max(s.shape[0] for s in s_waves))
    channels = result.waveform.shape[0]
    levels = torch.stack([
        source_levels(s, stereo)[:channels] if stereo and s.channels >= channels else
        source_levels(s, False).expand(channels) for s in styles])  # (S, C)
    target = (torch.tensor(style_weights).unsqueeze(-1) * levels).sum(0)  # (C,)
    result.extra = {"mode": "texture", "style_weights": style_weights, "stereo": stereo,
                    "seconds_requested": seconds, "device": str(dev), **route, **start}
    return _finish(result, rate, int(round(seconds * rate)), target, quiet)


__all__ = ["AudioResult", "LEVEL_MODULATION_MAX", "NOISE_FLATNESS", "TONAL_SHARE", "settle_route",
           "settle_starts", "source_levels", "style_transfer", "texture_synthesis",
           "working_signal"]
