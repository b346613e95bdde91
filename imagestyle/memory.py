"""Estimate the memory an optimisation needs before starting it, and say what size would fit.

The estimate counts what the optimisation keeps alive: every activation of the feature network
up to its deepest used layer (kept for the backward pass) and their gradients, the network's
weights, the optimiser's state (L-BFGS keeps ``2 * history_size`` copies of the image) and the
images themselves. It is deliberately on the generous side; the point is to refuse a 4000 px
request in a second with a useful message rather than to die after minutes of swapping.
"""

from __future__ import annotations

import os
from typing import Sequence

import torch

from .imageio import scaled_size
from .random_multiscale import multiscale_layout
from .vgg import vgg_layout

_FLOAT = 4  # bytes per float32
_HEADROOM = 0.85  # use at most this share of the free memory


def _vgg_activation_floats(arch: str, layers: Sequence[str], h: int, w: int) -> tuple[int, int]:
    """(floats of all activations up to the deepest layer, parameter floats)."""
    layout = vgg_layout(arch)  # type: ignore[arg-type]
    total, params = 0, 0
    for name in layout.upto(layers):
        c, s = layout.channels(name), layout.stride(name)
        if name.startswith("conv"):
            params += layout.in_channels(name) * c * 9 + c
        total += c * (h // s) * (w // s)  # this layer's output
    return total, params


def _multiscale_activation_floats(layers: Sequence[str], h: int, w: int) -> tuple[int, int]:
    layout = multiscale_layout()
    total, params = 3 * h * w, 0
    for name in layout.names:
        if name not in layers:
            continue
        c, d, taps = layout.channels(name), layout.stride(name), layout.taps(name)
        total += 2 * c * max(1, h // d) * max(1, w // d) + 3 * (h // d) * (w // d)
        params += c * 3 * taps * taps
    return total, params


def estimate_bytes(
    model: str,
    layers: Sequence[str],
    size: tuple[int, int],
    *,
    optimizer: str = "lbfgs",
    history_size: int = 100,
    gram_channels: Sequence[int] = (),
) -> int:
    """Bytes one optimisation at ``size = (W, H)`` needs on its device (an estimate).

    Args:
        model: ``"vgg19"``, ``"vgg16"`` or ``"random-multiscale"``.
        layers: The layers the objective reads.
        size: Image size ``(W, H)``.
        optimizer: ``"lbfgs"`` or ``"adam"``.
        history_size: L-BFGS history length.
        gram_channels: Channel count of each style layer (Gram matrices and their targets).
    """
    w, h = size
    if model == "random-multiscale":
        acts, params = _multiscale_activation_floats(layers, h, w)
    else:
        acts, params = _vgg_activation_floats(model, layers, h, w)
    image = 3 * h * w
    optim = (2 * history_size + 4) * image if optimizer == "lbfgs" else 4 * image
    grams = sum(3 * c * c for c in gram_channels)
    # Activations are kept for backward and their gradients exist at once: x 2, plus the
    # pre-activation of the ReLUs that backward needs (already counted as conv outputs).
    return _FLOAT * (2 * acts + params + optim + grams + 4 * image)


def available_bytes(device: torch.device) -> int | None:
    """Free memory on ``device`` in bytes (``None`` if unknown)."""
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return int(free + torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device))
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def _gib(n: float) -> str:
    return f"{n / 2**30:.1f} GiB"


def check_memory(
    model: str,
    layers: Sequence[str],
    size: tuple[int, int],
    device: torch.device,
    *,
    optimizer: str = "lbfgs",
    history_size: int = 100,
    gram_channels: Sequence[int] = (),
    available: int | None = None,
    what: str = "size",
) -> int:
    """Raise ``ValueError`` when the optimisation at ``size`` will not fit in memory.

    The message gives the estimate, the free memory and the largest longest side that fits at
    the same aspect ratio. Returns the estimate in bytes.
    """
    kwargs = dict(optimizer=optimizer, history_size=history_size, gram_channels=gram_channels)
    need = estimate_bytes(model, layers, size, **kwargs)
    free = available if available is not None else available_bytes(device)
    if free is None or need <= _HEADROOM * free:
        return need
    w, h = size
    longest = max(w, h)
    lo, hi = 0, longest
    while lo < hi:  # largest longest side that fits
        mid = (lo + hi + 1) // 2
        fit = scaled_size(size, mid / longest)
        if estimate_bytes(model, layers, fit, **kwargs) <= _HEADROOM * free:
            lo = mid
        else:
            hi = mid - 1
    hint = (f"{what} {lo} would fit" if lo >= 16 else
            "even a tiny image would not fit; free some memory")
    extra = "; Adam needs less than L-BFGS (optimizer adam)" if optimizer == "lbfgs" else ""
    raise ValueError(
        f"{w}x{h} needs about {_gib(need)} of {device.type} memory for {model} but only "
        f"{_gib(free)} is free; {hint}{extra}"
    )
