"""Sampling textures from a texture-mode :class:`TextureNet` (Ulyanov et al. 2016): new noise,
new variation of the texture, no optimisation at run time. Samples are seeded and reproducible.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import torch
from torch import Tensor

from shared import check_output_path

from ..imageio import SAVE_FORMATS, check_size, save_image, target_size
from ..memory import check_generator, per_pixel_floats
from .networks import TextureNet
from .stylize import inference_context, load_generator


def sample_textures(net: TextureNet, count: int, size: tuple[int, int], *, seed: int = 0,
                    batch_size: int = 4, first: int = 0) -> list[Tensor]:
    """Draw ``count`` textures of ``size = (W, H)`` from a texture-mode :class:`TextureNet`.

    Sample ``i`` (numbered from ``first``) depends only on ``seed`` and ``i``, not on ``count`` or
    ``batch_size``: its noise is drawn from a generator seeded with ``(seed, i)``.

    Returns:
        ``count`` CPU tensors ``(1, 3, H, W)`` float32 in [0, 1].
    """
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    wh = check_size(size)
    if not isinstance(wh, tuple):  # a bare network knows no training size to take an aspect of
        raise ValueError(f"size must be (W, H) (two positive integers), got {size!r}")
    w, h = wh
    device = next(net.parameters()).device
    out: list[Tensor] = []
    for start in range(first, first + count, batch_size):
        noises = []
        for i in range(start, min(first + count, start + batch_size)):
            g = torch.Generator().manual_seed(_sample_seed(seed, i))
            noises.append(torch.randn(net.noise_shape(1, h, w), generator=g))
        noise = torch.cat(noises).to(device)  # (b, K * n, H, W)
        with inference_context(device):
            y = net(noise).float().clamp(0, 1).cpu()
        out.extend(y[j:j + 1].contiguous() for j in range(y.shape[0]))
    return out


def _sample_seed(seed: int, index: int) -> int:
    state = np.random.SeedSequence([seed, index]).generate_state(2, dtype=np.uint32)
    return int(state[0]) << 32 | int(state[1])


def sample_paths(output: Path, count: int) -> list[Path]:
    """``OUT.png`` for one sample, ``OUT_001.png ... OUT_N.png`` for several."""
    if count == 1:
        return [output]
    digits = max(3, len(str(count)))
    return [output.with_name(f"{output.stem}_{i:0{digits}d}{output.suffix}") for i in range(1, count + 1)]


def sample_files(model: str | Path, output: str | Path, *,
                 size: Optional[int | tuple[int, int]] = None, seed: int = 0, count: int = 1,
                 batch_size: int = 4, device: torch.device | str = "cpu") -> list[Path]:
    """Sample textures with a texture model file and write them atomically.

    ``size``: ``None`` is the model's training size (its square crop); ``N`` the longest side
    N with the training size's aspect (so N x N); ``(W, H)`` exactly W x H
    (:func:`~imagestyle.imageio.target_size`). Returns the paths written.

    Raises:
        FileNotFoundError: a missing model file.
        ValueError: a bad model file, ``size`` or ``count``, or an output that cannot be
            written or would overwrite the model.
    """
    device = torch.device(device)
    out = Path(output)
    if size is not None:
        check_size(size)
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    if out.suffix.lower() not in SAVE_FORMATS:
        raise ValueError(f"output {out}: unsupported image extension {out.suffix!r}; use one of "
                         f"{', '.join(sorted(SAVE_FORMATS))}")
    paths = sample_paths(out, count)
    for path in paths:
        check_output_path(path, [model])
    net, info = load_generator(model, device, "texture")
    s = int(info.training.get("image_size") or 256)  # training crops are s x s
    size = (s, s) if size is None else target_size((s, s), size)
    check_generator(per_pixel_floats([net], lambda side: sample_textures(net, 1, (side, side))),
                    sum(p.numel() for p in net.parameters()), size[0] * size[1],  # type: ignore[index]
                    min(batch_size, count), device, f"textures of size {size[0]}x{size[1]}",  # type: ignore[index]
                    ("size", "batch_size"), training=False)
    for start in range(0, count, batch_size):  # a batch at a time: any count fits in memory
        n = min(batch_size, count - start)
        images = sample_textures(net, n, size, seed=seed, batch_size=batch_size, first=start)  # type: ignore[arg-type]
        for image, path in zip(images, paths[start:start + n]):
            save_image(image, path)
    return paths
