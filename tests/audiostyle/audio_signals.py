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
