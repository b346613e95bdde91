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

from .spectral import magnitude


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
    import librosa
    import librosa.display
    import matplotlib.pyplot as plt
    import numpy as np

    panels = len(clips) + (1 if loss_history else 0)
    fig, axes = plt.subplots(1, panels, figsize=(4.2 * panels, 3.8), squeeze=False,
                             constrained_layout=True)
    axes = axes[0]
    image = None
    for ax, (name, samples, rate) in zip(axes, clips):
        wave = _mono(samples.detach().float().cpu())
        if wave.shape[-1] < n_fft:  # short clips: pad so that one full frame exists
            wave = torch.nn.functional.pad(wave, (0, n_fft - wave.shape[-1]))
        mag = magnitude(wave, n_fft, hop).numpy()  # (F, T)
        db = librosa.amplitude_to_db(mag, ref=np.max(mag) if mag.max() > 0 else 1.0,
                                     top_db=80.0)
        image = librosa.display.specshow(db, sr=rate, hop_length=hop, n_fft=n_fft,
                                         x_axis="time", y_axis="log", ax=ax, cmap="magma",
                                         vmin=-80, vmax=0)
        ax.set_title(name, fontsize=9)
    if image is not None:
        fig.colorbar(image, ax=axes[: len(clips)].tolist(), format="%+2.0f dB", shrink=0.85)
    if loss_history:
        ax = axes[-1]
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
    if title:
        fig.suptitle(title, fontsize=10)
    try:
        with atomic_path(out) as tmp:
            fig.savefig(tmp, dpi=110, format=Path(out).suffix.lstrip(".").lower() or "png")
    finally:
        plt.close(fig)


__all__ = ["plot_spectrograms"]
