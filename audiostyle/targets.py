"""Style targets: the blended Gram matrices (and autocorrelations) of the style recordings.

A Gram is a mean over positions, so a style of any length is read in chunks of output
positions (:func:`chunked_grams`, :class:`shared.GramSum`): memory is that of one chunk's
features, not of the whole style (an hour of audio has 155 000 frames: 2.5 GB of features at
4096 filters at once, 67 MB a chunk). Styles are blended with their weights
(:func:`shared.blend_grams`), per output channel (:class:`StyleTargets`).
"""

from __future__ import annotations

from typing import Callable, Optional, Sequence, Union

import torch
from torch import Tensor

from shared import GramSum, blend_grams

from .config import AudioStyleConfig
from .dsp import downmix
from .network import RandomConvBank
from .rhythm import AUTOCORR_PREFIX, style_autocorrelations
from .spectral import Spectral
from .stream import ResampledFile

Wave = Union[Tensor, ResampledFile]  # (C, N) samples at the working rate
CHUNK_FRAMES = 4096  # output positions per chunk of a Gram


def chunked_grams(net: RandomConvBank, spec: Tensor,
                  chunk_frames: int = CHUNK_FRAMES) -> dict[str, Tensor]:
    """Position-normalised Gram per layer of one spectrogram ``(1, F, T)``, any length,
    accumulated over chunks of ``chunk_frames`` output positions (each chunk's input overlaps
    the next by the widest kernel less one). Equals :func:`shared.gram_matrix` of the whole
    features up to summation order.

    Returns ``{"conv<K>": (1, C, C)}``.
    """
    return _accumulate_grams(net, spec.shape[-1], lambda a, b: spec[..., a:b], chunk_frames)


def wave_grams(net: RandomConvBank, wave: Tensor, spectral: Spectral,
               chunk_frames: int = CHUNK_FRAMES, progress: Optional[str] = None
               ) -> dict[str, Tensor]:
    """:func:`chunked_grams` of the log spectrogram of ``wave`` ``(1, N)``, each chunk's
    frames computed from its samples only (:func:`audiostyle.spectral.stft_frames`): no
    spectrogram of the whole signal is ever held. ``progress``: label of a progress bar over
    the chunks, shown when there are more than two."""
    return _accumulate_grams(net, spectral.frames(wave.shape[-1]),
                             lambda a, b: spectral.log_frames(wave, a, b), chunk_frames,
                             progress)


def _accumulate_grams(net: RandomConvBank, frames: int, read: Callable[[int, int], Tensor],
                      chunk_frames: int, progress: Optional[str] = None) -> dict[str, Tensor]:
    """The Grams of :func:`chunked_grams` over ``frames`` frames that ``read(a, b)`` gives as
    ``(1, F, b - a)``."""
    from tqdm.auto import tqdm

    if chunk_frames < 1:
        raise ValueError(f"chunk_frames must be positive, got {chunk_frames}")
    widest = net.receptive_frames
    sums = {name: GramSum() for name in net.layer_names}
    with torch.no_grad():
        starts = range(0, frames - widest + 1, chunk_frames)
        for start in tqdm(starts, desc=progress, unit="chunk", leave=False, dynamic_ncols=True,
                          disable=progress is None or len(starts) <= 2):
            last = start + chunk_frames > frames - widest
            feats = net(read(start, frames if last else start + chunk_frames + widest - 1))
            for name in net.layer_names:
                sums[name].add(feats[name] if last else feats[name][..., :chunk_frames])
            del feats
    return {name: total.result() for name, total in sums.items()}


def style_grams(net: RandomConvBank, specs: Sequence[Tensor],
                weights: Optional[Sequence[float]]) -> dict[str, Tensor]:
    """Blended target Gram per layer of style spectrograms (each ``(1, F, T_i)``, any lengths):
    ``{"conv<K>": (1, C, C)}``, each style's normalised by its own frame count."""
    per_style = [chunked_grams(net, spec) for spec in specs]
    return {name: blend_grams([g[name] for g in per_style], weights) for name in net.layer_names}


def style_channel(style: Wave, k: int) -> Wave:
    """Channel ``k`` of a working-rate style ``(1, N)``; ``k = -1``: its downmix."""
    if isinstance(style, ResampledFile):
        return style.channel_view(k) if k >= 0 else style.downmix()
    return style[k:k + 1] if k >= 0 else downmix(style)


class StyleTargets:
    """The blended style targets of each output channel under one network.

    Channel ``c`` of the result takes channel ``c`` of each style that has it and the style's
    downmix otherwise, so mono styles serve every channel: the last channel's targets are
    kept and reused. With ``autocorr_weight > 0`` the targets also hold the blended feature
    autocorrelations over ``config.autocorr_lags`` lags (``"autocorr/conv<K>"``,
    ``(1, C, L)``, :func:`audiostyle.rhythm.style_autocorrelations`) beside the Grams
    (``"conv<K>"``, ``(1, C, C)``).
    """

    def __init__(self, net: RandomConvBank, styles: Sequence[Wave],
                 weights: Sequence[float], config: AudioStyleConfig, quiet: bool = True) -> None:
        self.net, self.styles, self.weights = net, list(styles), list(weights)
        self.config, self.quiet = config, quiet
        self._key: Optional[tuple[int, ...]] = None
        self._targets: dict[str, Tensor] = {}

    def channel(self, c: int) -> dict[str, Tensor]:
        """The targets of output channel ``c``."""
        key = tuple(c if 1 < s.shape[0] and c < s.shape[0] else -1 for s in self.styles)
        if key != self._key:
            self._targets = {}  # the last channel's are freed first
            self._targets = self._compute(key)
            self._key = key
        return self._targets

    def _compute(self, key: tuple[int, ...]) -> dict[str, Tensor]:
        net, config = self.net, self.config
        waves = [style_channel(s, k).to(net.device) for s, k in zip(self.styles, key)]  # (1, N)
        per_style = [wave_grams(net, w, config.spectral,
                                progress=None if self.quiet else f"style {i + 1} Gram")
                     for i, w in enumerate(waves)]
        targets = {name: blend_grams([g[name] for g in per_style], self.weights)
                   for name in net.layer_names}
        if config.objective.autocorr_weight > 0:
            specs = [config.spectral.log(w.tensor() if isinstance(w, ResampledFile) else w)
                     for w in waves]
            lagged = style_autocorrelations(net, net.kernel_widths, specs, config.autocorr_lags,
                                            self.weights)
            targets.update({AUTOCORR_PREFIX + k: v for k, v in lagged.items()})
        return targets


__all__ = ["CHUNK_FRAMES", "StyleTargets", "Wave", "chunked_grams", "style_channel",
           "style_grams", "wave_grams"]
