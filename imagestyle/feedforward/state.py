"""The random state of training, so that a resumed run matches an uninterrupted one.

The noise of a step is a pure function of ``(seed, rank, step)`` (:func:`noise_generator`); the
global RNG states (Python, NumPy, torch CPU and CUDA) are saved in checkpoints and restored on
resume (:func:`rng_states`, :func:`set_rng_states`).
"""

from __future__ import annotations

import ast
import random
from typing import Any

import numpy as np
import torch


def noise_generator(seed: int, rank: int, step: int) -> torch.Generator:
    """The CPU generator of the noise of one step: a pure function of ``(seed, rank, step)``."""
    state = np.random.SeedSequence([seed, rank, step]).generate_state(2, dtype=np.uint32)
    return torch.Generator().manual_seed(int(state[0]) << 32 | int(state[1]))


def rng_states() -> dict[str, Any]:
    """The global RNG states (Python, NumPy, torch CPU and CUDA) as tensors and plain values."""
    np_state = np.random.get_state()
    states: dict[str, Any] = {
        "python": repr(random.getstate()),
        "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), int(np_state[2]),
                  int(np_state[3]), float(np_state[4])],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def set_rng_states(states: dict[str, Any]) -> None:
    """Restore what :func:`rng_states` saved (missing entries are left alone)."""
    if "python" in states:
        random.setstate(ast.literal_eval(states["python"]))
    if "numpy" in states:
        name, keys, pos, has_gauss, cached = states["numpy"]
        np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    if "torch" in states:
        torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available() and len(states["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(states["cuda"])
