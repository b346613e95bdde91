"""Stylise a photo and synthesise textures from scikit-image's sample images.

Runs offline: without VGG weights it uses the random multi-scale network (Ustyuzhaninov et al.
2017), which needs none. With weights, pass them (``--features vgg19 --weights PATH.pth`` or the
cached ``imagenet``) for Gatys et al.'s VGG-19 results.

    python examples/image_demo.py                       # small and quick (CPU: a few minutes)
    python examples/image_demo.py --size 512 --iterations 500 --features vgg19 --weights imagenet

Writes into ``--out-dir`` (default ``image_demo_out/``, as ``train_demo.py``): the inputs, ``transfer.png``,
``transfer_luminance.png`` (the content's colours kept), ``texture_<name>.png`` and
``metrics.txt`` with held-out texture measures (see :mod:`imagestyle.metrics`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from imagestyle.gatys import GatysConfig, stylize, synthesize_texture, texture_config
from imagestyle.imageio import save_image
from imagestyle.metrics import texture_report


def sample(name: str, box: tuple[int, int, int, int] | None = None) -> torch.Tensor:
    """A ``skimage.data`` image (cropped to ``box = (top, left, height, width)``) as
    ``(1, 3, H, W)`` RGB in [0, 1]."""
    import skimage.data

    arr = getattr(skimage.data, name)()
    if box is not None:
        top, left, h, w = box
        arr = arr[top : top + h, left : left + w]
    if arr.ndim == 2:
        arr = np.stack([arr] * 3, axis=-1)
    arr = np.ascontiguousarray(arr[..., :3]).astype(np.float32) / 255.0
    return torch.from_numpy(arr).permute(2, 0, 1).unsqueeze(0)  # (1, 3, H, W)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", dest="out", type=Path, default=Path("image_demo_out"),
                        help="output folder (default: image_demo_out)")
    parser.add_argument("--size", type=int, default=128,
                        help="the outputs' longest side in px (default: 128)")
    parser.add_argument("--iterations", type=int, default=150,
                        help="L-BFGS iterations (default: 150)")
    parser.add_argument("--features", default="random-multiscale",
                        choices=("vgg19", "vgg16", "random-multiscale"),
                        help="feature network (default: random-multiscale)")
    parser.add_argument("--weights", default="imagenet",
                        help="VGG weights: imagenet, random or a .pth path (default: imagenet)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda (default: auto)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    common = dict(model=args.features, weights=args.weights, iterations=args.iterations,
                  device=args.device)

    content = sample("chelsea")  # the cat
    style = sample("immunohistochemistry")  # stained tissue: a strong colour texture
    save_image(content, args.out / "content.png")
    save_image(style, args.out / "style.png")
    for colour in (None, "luminance"):
        cfg = GatysConfig(size=args.size, init="content", preserve_color=colour, **common)
        result = stylize(content, [style], cfg)
        name = "transfer.png" if colour is None else f"transfer_{colour}.png"
        save_image(result.image, args.out / name)
        print(f"{name}: loss {result.loss:.4g}")

    textures = {
        "tissue": sample("immunohistochemistry", (0, 0, 256, 256)),
        "fur": sample("chelsea", (80, 0, 150, 150)),
        "gravel": sample("gravel", (0, 0, 256, 256)),
        "coffee": sample("coffee", (0, 0, 200, 200)),
    }
    lines = []
    for name, source in textures.items():
        result = synthesize_texture([source], texture_config(size=args.size, **common))
        save_image(source, args.out / f"source_{name}.png")
        save_image(result.image, args.out / f"texture_{name}.png")
        small = torch.nn.functional.interpolate(source, size=result.image.shape[-2:],
                                                mode="bilinear", antialias=True)
        report = texture_report(result.image, small)
        lines.append(f"{name}: " + ", ".join(f"{k} {v:.3f}" for k, v in report.items()))
        print(lines[-1])
    (args.out / "metrics.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
