"""The memory an audio run will need, estimated from its settings and input sizes.

Counted by part (:class:`shared.memory.Estimate`), each part naming the settings that size it:
the random filters and what the convolution library keeps of them, the Gram matrices (targets,
each style's sums, the loss's own), the features of one window and their gradients, L-BFGS's
history over one window's variable, Griffin-Lim's and the STFT's buffers over one window, and
the whole-length arrays on the host (the result's spectrogram and samples per channel, the
content at the working rate, the resampled result). The factors were fitted to measured peaks
(``tests/audiostyle/test_audio_memory.py`` holds the estimate within 1.5x of them).
"""

from __future__ import annotations

from typing import Sequence

import torch

from shared.memory import Estimate, check_fits

from .config import AudioStyleConfig
from .objective import lbfgs_history

FLOAT = 4  # bytes


def _networks(config: AudioStyleConfig) -> list[tuple[int, tuple[str, ...]]]:
    """(filters, the settings that name them) of each distinct network of the run."""
    nets: list[tuple[int, tuple[str, ...]]] = []
    if config.spectrogram_stage:
        nets.append((config.filters_of("spectrogram"), ("filters",)))
    if config.waveform is not None:
        filters = config.filters_of("waveform")
        if not nets or nets[0][0] != filters:
            nets.append((filters, ("waveform_filters",) if config.waveform.filters else
                         ("filters",)))
    return nets


# Factors fitted to peaks measured on 12 runs (transfer and texture, both domains, 64 to 8192
# filters, 5 s to 15 min, mono and stereo, one to three widths): the estimate is within
# 0.76-1.35x of each (docs/audio.md, "Memory estimate"; tests/audiostyle/test_audio_memory.py).
GRAM_COPIES = 3.3  # the target, each style's sum, the loss's Gram, difference and gradient
CHUNK_COPIES = 4.1  # features of a style chunk (4096 positions) and of the loss's window
WINDOW_COPIES = 5.4  # STFT, Griffin-Lim and gradient buffers of one window's spectrogram
SPECTROGRAM_COPIES = 2.3  # whole-length spectrograms per channel (result, joins)
CHUNK = 4096  # output positions of a style chunk (audiostyle.targets.CHUNK_FRAMES)


def estimate(config: AudioStyleConfig, samples: int, channels: int,
             style_samples: Sequence[int], out_samples: int, length: str) -> Estimate:
    """What a run of ``config`` needs for a result of ``samples`` working-rate samples and
    ``channels`` channels (``out_samples`` at the output rate), from styles of
    ``style_samples`` working-rate samples each. ``length`` names what sets the result's
    length (``"seconds"`` for a texture, ``"a shorter content"`` for a transfer)."""
    e = Estimate()
    bins, hop = config.bins, config.front.hop
    frames = config.spectral.frames(samples)
    window = min(frames, config.windows.window_frames)  # frames optimised at once
    wsamples = min(samples, window * hop + config.front.n_fft)
    widths = config.features.kernel_widths
    win = ("window_frames", length) if frames <= config.windows.window_frames else ("window_frames",)
    for filters, names in _networks(config):
        e.add("random filters", FLOAT * filters * bins * sum(widths), names)
        copies = GRAM_COPIES + len(style_samples) - 1
        e.add("Gram matrices", copies * FLOAT * filters ** 2 * len(widths), names)
        e.add("features", FLOAT * filters * len(widths) * (CHUNK_COPIES * CHUNK + window),
              names)
    if config.objective.autocorr_weight > 0:
        e.add("style spectrograms", FLOAT * bins * max(config.spectral.frames(n)
                                                       for n in style_samples),
              ("autocorr_weight",))
    for stage, numel in (("spectrogram", bins * window), ("waveform", wsamples)):
        if config.budget(stage) or (stage == "spectrogram" and config.spectrogram_stage):
            pairs = lbfgs_history(config, numel)
            e.add("L-BFGS history", (2 * pairs + 8) * FLOAT * numel, win)
            e.add("STFT and Griffin-Lim", WINDOW_COPIES * FLOAT * bins * window, win)
    e.add("whole spectrograms", SPECTROGRAM_COPIES * FLOAT * bins * frames * channels,
          (length,), host=True)
    e.add("whole waveforms", FLOAT * (samples + out_samples) * channels, (length,), host=True)
    return e


def check(config: AudioStyleConfig, samples: int, channels: int, style_samples: Sequence[int],
          out_samples: int, device: torch.device, what: str, length: str) -> None:
    """Raise ``ValueError`` (:func:`shared.memory.check_fits`) when the run will not fit in
    the memory this process can have; ``what`` describes the run for the message."""
    check_fits(estimate(config, samples, channels, style_samples, out_samples, length), device,
               f"{what} with filters {config.features.filters}")


__all__ = ["check", "estimate"]
