"""Estimate the memory an optimisation needs before starting it, and say what size would fit.

The estimate counts what the optimisation keeps alive: every activation of the feature network
up to its deepest used layer (kept for the backward pass) and their gradients, the network's
weights, the optimiser's state (L-BFGS keeps ``2 * history_size`` copies of the image) and the
images themselves. It is deliberately on the generous side; the point is to refuse a 4000 px
request in a second with a useful message rather than to die after minutes of swapping.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch

from shared.memory import HEADROOM, Estimate, activation_floats, available_bytes, check_fits

from .imageio import scaled_size
from .random_multiscale import multiscale_layout
from .vgg import vgg_layout

_FLOAT = 4  # bytes per float32


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
    style_pixels: int = 0,
) -> int:
    """Bytes one optimisation at ``size = (W, H)`` needs on its device (an estimate).

    Args:
        model: ``"vgg19"``, ``"vgg16"`` or ``"random-multiscale"``.
        layers: The layers the objective reads.
        size: Image size ``(W, H)``.
        optimizer: ``"lbfgs"`` or ``"adam"``.
        history_size: L-BFGS history length.
        gram_channels: Channel count of each style layer (Gram matrices and their targets).
        style_pixels: Pixels of the style images at the sizes they are matched at (each is
            resized, then run through the network once for its targets).
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
    return _FLOAT * (2 * acts + params + optim + grams + 4 * image + 6 * style_pixels)


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
    style_pixels: int = 0,
    available: int | None = None,
    what: str = "size",
) -> int:
    """Raise ``ValueError`` when the optimisation at ``size`` will not fit in memory.

    The message gives the estimate, the free memory and the largest longest side that fits at
    the same aspect ratio. Returns the estimate in bytes.
    """
    kwargs = dict(optimizer=optimizer, history_size=history_size, gram_channels=gram_channels,
                  style_pixels=style_pixels)
    need = estimate_bytes(model, layers, size, **kwargs)
    free = available if available is not None else available_bytes(device)
    if free is None or need <= HEADROOM * free:
        return need
    w, h = size
    longest = max(w, h)
    lo, hi = 0, longest
    while lo < hi:  # largest longest side that fits
        mid = (lo + hi + 1) // 2
        fit = scaled_size(size, mid / longest)
        shrunk = dict(kwargs, style_pixels=int(style_pixels * (mid / longest) ** 2))
        if estimate_bytes(model, layers, fit, **shrunk) <= HEADROOM * free:
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


# Feed-forward generators: what a forward pass makes per pixel is counted on a small probe
# (shared.memory.activation_floats) and scaled to the run's pixels and batch. Training keeps the
# generator's and the loss network's activations for the backward pass, with their gradients;
# stylising and sampling keep only a few layers' at a time.
PROBE_SIDE = 128
# Fitted to peaks measured on 8 runs (Johnson and texture-net, VGG and random-multiscale loss
# networks, 128-1024 px, batches of 1-4): 0.78-1.14x of each (docs/images.md, "Memory").
TRAIN_COPIES = 1.4  # activations kept for backward and their gradients, per activation
INFERENCE_COPIES = 0.35  # the activations alive at once, per activation of the whole pass
TRAIN_OVERHEAD = 200e6  # bytes: data loading, the optimiser's step, the Grams' own buffers


def per_pixel_floats(modules: Sequence[torch.nn.Module], probe: Callable[[int], object]) -> float:
    """Activation elements per output pixel of ``probe(PROBE_SIDE)``, a forward pass of
    ``modules`` at a square ``PROBE_SIDE`` x ``PROBE_SIDE`` image."""
    return activation_floats(modules, lambda: probe(PROBE_SIDE)) / PROBE_SIDE ** 2


def check_generator(per_pixel: float, params: int, pixels: int, batch: int, device: torch.device,
                    what: str, lower: Sequence[str], training: bool,
                    loss_params: int = 0) -> None:
    """Raise ``ValueError`` when a feed-forward run will not fit: ``pixels`` per image,
    ``batch`` images at once, ``params`` parameters of the generator (trained with Adam when
    ``training``, beside a loss network of ``loss_params``)."""
    e = Estimate()
    copies = TRAIN_COPIES if training else INFERENCE_COPIES
    e.add("activations", copies * _FLOAT * per_pixel * pixels * batch, lower)
    e.add("parameters", (4 if training else 1) * _FLOAT * params + 2 * _FLOAT * loss_params
          + (TRAIN_OVERHEAD if training else 0), ())
    check_fits(e, device, what)
