"""Synthetic test signals for the audiostyle tests."""

from __future__ import annotations

import math

import numpy as np
import soundfile as sf
import torch

RATE = 8000


def tone(seconds: float = 1.0, rate: int = RATE, freqs: tuple[float, ...] = (220.0, 330.0),
         channels: int = 1) -> torch.Tensor:
    """A chord with a slow tremolo: ``(channels, N)``."""
    t = torch.arange(int(seconds * rate), dtype=torch.float64) / rate
    x = sum(torch.sin(2 * math.pi * f * t) for f in freqs) / len(freqs)
    x = x * (0.6 + 0.4 * torch.sin(2 * math.pi * 3 * t))
    out = torch.stack([x * (0.5 + 0.2 * c) for c in range(channels)])
    return out.float()


def clicks(seconds: float = 1.0, rate: int = RATE, seed: int = 1) -> torch.Tensor:
    """Decaying noise bursts every 1/8 s: a texture unlike :func:`tone`, ``(1, N)``."""
    g = torch.Generator().manual_seed(seed)
    n = int(seconds * rate)
    noise = torch.randn(n, generator=g) * 0.3
    env = torch.exp(-((torch.arange(n) % (rate // 8)).float()) / (rate / 80))
    return (noise * env).unsqueeze(0)



def write_wav(path, samples: torch.Tensor, rate: int = RATE, subtype: str = "PCM_16") -> str:
    """Write ``(C, N)`` to ``path`` and return it as a string."""
    sf.write(str(path), np.ascontiguousarray(samples.numpy().T), rate, subtype=subtype)
    return str(path)


def stereo_tones(seconds: float = 1.0, rate: int = RATE,
                 freqs: tuple[float, ...] = (440.0, 1500.0)) -> torch.Tensor:
    """One pure tone per channel, channel ``c`` at ``freqs[c]`` with a slow tremolo:
    ``(len(freqs), N)``; the channels are told apart by their spectra."""
    t = torch.arange(int(seconds * rate), dtype=torch.float64) / rate
    env = 0.6 + 0.4 * torch.sin(2 * math.pi * 3 * t)
    return torch.stack([0.4 * env * torch.sin(2 * math.pi * f * t) for f in freqs]).float()


def band_share(wave: torch.Tensor, rate: int, freq: float, width: float = 150.0) -> torch.Tensor:
    """Share of each channel's energy within ``width`` Hz of ``freq``: ``(C, N)`` -> ``(C,)``."""
    power = torch.fft.rfft(wave.double(), dim=-1).abs().square()  # (C, N // 2 + 1)
    hz = torch.fft.rfftfreq(wave.shape[-1], 1.0 / rate)
    near = (hz - freq).abs() <= width
    return (power[:, near].sum(-1) / power.sum(-1).clamp_min(1e-30)).float()


def spectral_correlation(a: torch.Tensor, b: torch.Tensor, n_fft: int = 512) -> float:
    """Pearson correlation of the average STFT magnitude profiles (``n_fft // 2 + 1`` bins) of
    two 1-D signals: near 1 when they hold the same frequencies in the same proportions."""
    from audiostyle.spectral import magnitude

    pa, pb = (magnitude(x.double(), n_fft, n_fft // 4).mean(-1) for x in (a, b))  # (F,)
    pa, pb = pa - pa.mean(), pb - pb.mean()
    return float((pa * pb).sum() / (pa.norm() * pb.norm()))


def write_mp3(path, samples: torch.Tensor, rate: int = RATE) -> str:
    """Encode ``(C, N)`` as MP3: with libsndfile when it has an encoder (1.1 and later), else
    with ``sox`` when it can write MP3; skip the calling test when neither can."""
    import shutil
    import subprocess

    import pytest

    if "MP3" in sf.available_formats():
        sf.write(str(path), np.ascontiguousarray(samples.numpy().T), rate, format="MP3")
        return str(path)
    sox = shutil.which("sox")
    if sox and " mp3 " in subprocess.run([sox, "-h"], capture_output=True, text=True).stdout:
        wav = write_wav(str(path) + ".wav", samples, rate)
        subprocess.run([sox, wav, str(path)], check=True)
        return str(path)
    pytest.skip("no MP3 encoder: libsndfile is older than 1.1 and sox cannot write MP3")
