"""Helpers of the image tests: tiny seeded images, PNG writing, random VGG state dicts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image


def smooth_image(h: int, w: int, seed: int) -> torch.Tensor:
    """A smooth colourful ``(1, 3, h, w)`` image in [0.15, 0.85] (no clipping in YUV round
    trips): low-frequency noise upsampled."""
    gen = torch.Generator().manual_seed(seed)
    low = torch.rand(1, 3, max(2, h // 8), max(2, w // 8), generator=gen)
    img = torch.nn.functional.interpolate(low, size=(h, w), mode="bilinear", align_corners=False)
    return 0.15 + 0.7 * img


def texture_image(h: int, w: int, seed: int) -> torch.Tensor:
    """A stripy textured ``(1, 3, h, w)`` image in [0, 1]."""
    gen = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    stripes = 0.5 + 0.4 * torch.sin((xx + 0.5 * yy) * 0.9)
    noise = 0.1 * torch.rand(1, 3, h, w, generator=gen)
    colour = torch.tensor([0.9, 0.5, 0.2]).view(1, 3, 1, 1)
    return (stripes * colour + noise).clamp(0, 1)


def write_png(tensor: torch.Tensor, path: Path) -> Path:
    arr = (tensor[0].permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
    Image.fromarray(arr, "RGB").save(path)
    return path


def vgg_state(arch: str, seed: int = 0) -> dict[str, torch.Tensor]:
    """A random state dict of torchvision's VGG trunk, in its layout (``features.N.weight``)."""
    from torchvision.models.vgg import cfgs, make_layers

    torch.manual_seed(seed)
    trunk = make_layers(cfgs["D" if arch == "vgg16" else "E"])
    return {f"features.{k}": v for k, v in trunk.state_dict().items()}
