"""Figures: spectrograms in dB with time and frequency axes (librosa.display), and loss curves.

matplotlib is imported inside the functions (Agg backend), so importing the package stays fast
and works without a display.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

import torch
from torch import Tensor

from shared import atomic_path

from .spectral import magnitude, stft_frames


def _mono(samples: Tensor) -> Tensor:
    """``(C, N)`` or ``(N,)`` -> ``(N,)`` (channels averaged)."""
    return samples if samples.dim() == 1 else samples.mean(dim=0)


def plot_spectrograms(
    clips: Sequence[tuple[str, Tensor, int]],
    out: str | Path,
    *,
    loss_history: Optional[Sequence[Sequence[dict[str, float]]]] = None,
    n_fft: int = 2048,
    hop: int = 512,
    title: Optional[str] = None,
) -> None:
    """Draw the spectrograms of several clips side by side, and optionally a loss curve.

    Args:
        clips: ``(title, samples, sample_rate)`` per panel; samples ``(C, N)`` or ``(N,)``
            (channels are averaged for display).
        out: Image path (the format follows the suffix: .png, .pdf, .svg, .jpg); written
            atomically.
        loss_history: Per channel, one dict of loss terms per iteration (``"total"``, and
            ``"content"``/``"style"`` when present), drawn on a log scale.
        n_fft, hop: STFT of the display.
        title: Figure title.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = len(clips) + (1 if loss_history else 0)
    fig, axes = plt.subplots(1, panels, figsize=(4.2 * panels, 3.8), squeeze=False,
                             constrained_layout=True)
    axes = axes[0]
    image = None
    for ax, (name, samples, rate) in zip(axes, clips):
        image = _draw_spectrogram(ax, name, samples, rate, n_fft, hop)
    if image is not None:
        fig.colorbar(image, ax=axes[: len(clips)].tolist(), format="%+2.0f dB", shrink=0.85)
    if loss_history:
        _draw_loss(axes[-1], loss_history)
    if title:
        fig.suptitle(title, fontsize=10)
    try:
        with atomic_path(out) as tmp:
            fig.savefig(tmp, dpi=110, format=Path(out).suffix.lstrip(".").lower() or "png")
    finally:
        plt.close(fig)


MAX_COLUMNS = 4096  # frames drawn per panel; longer clips are max-pooled over time


def display_magnitude(wave: Tensor, n_fft: int, hop: int) -> tuple[Tensor, int]:
    """The magnitude to draw for ``wave`` ``(N,)``: ``(F, T')`` with at most
    :data:`MAX_COLUMNS` frames, each the maximum over ``stride`` consecutive frames
    (computed block by block, so an hour of audio never holds its whole spectrogram), and
    the ``stride``."""
    frames = 1 + wave.shape[-1] // hop
    stride = max(1, -(-frames // MAX_COLUMNS))
    if stride == 1:
        return magnitude(wave, n_fft, hop), 1
    step = stride * 256  # frames per block, whole strides
    columns = []
    for a in range(0, frames, step):
        mag = stft_frames(wave, a, min(a + step, frames), n_fft, hop).abs()  # (F, n)
        columns.append(torch.nn.functional.max_pool1d(mag[None], stride, stride,
                                                      ceil_mode=True)[0])
    return torch.cat(columns, dim=-1), stride


def _draw_spectrogram(ax: object, name: str, samples: Tensor, rate: int, n_fft: int,
                      hop: int) -> object:
    """One panel: the clip's spectrogram in dB (80 dB range), time and log-frequency axes."""
    import librosa
    import librosa.display
    import numpy as np

    wave = _mono(samples.detach().float().cpu())
    if wave.shape[-1] < n_fft:  # short clips: pad so that one full frame exists
        wave = torch.nn.functional.pad(wave, (0, n_fft - wave.shape[-1]))
    mag, stride = display_magnitude(wave, n_fft, hop)
    mag = mag.numpy()  # (F, T')
    db = librosa.amplitude_to_db(mag, ref=np.max(mag) if mag.max() > 0 else 1.0, top_db=80.0)
    image = librosa.display.specshow(db, sr=rate, hop_length=hop * stride, n_fft=n_fft,
                                     x_axis="time", y_axis="log", ax=ax, cmap="magma",
                                     vmin=-80, vmax=0)
    ax.set_title(name, fontsize=9)  # type: ignore[attr-defined]
    return image


def _draw_loss(ax: object, loss_history: Sequence[Sequence[dict[str, float]]]) -> None:
    """The loss panel: total, style and content terms per iteration (log scale), per
    channel."""
    for c, history in enumerate(loss_history):
        suffix = "" if len(loss_history) == 1 else f" ch{c + 1}"
        for key, style in (("total", "-"), ("style", "--"), ("content", ":")):
            values = [h[key] for h in history if key in h]
            if values:
                ax.plot(range(1, len(values) + 1), values, style, label=key + suffix)
    ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("loss")
    ax.set_title("loss", fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)


__all__ = ["MAX_COLUMNS", "display_magnitude", "plot_spectrograms"]
