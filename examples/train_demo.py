"""A short feed-forward demo on ``skimage.data`` images: train a Johnson transform net on a few
photos, stylise them, then train an Ulyanov texture network and sample textures from it.

Offline by default (``--features random-multiscale``: random filters, no download). With
torchvision's VGG-16 weights in the cache, ``--features vgg16 --steps 2000`` gives properly
artistic results.

    python examples/train_demo.py --out-dir demo_out            # about a minute on a laptop CPU
    python examples/train_demo.py --out-dir demo_gpu --device cuda --steps 2000 --features vgg16

``--out-dir`` must be a new or empty folder: the demo never deletes or overwrites anything.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from imagestyle.feedforward.sample import sample_files
from imagestyle.feedforward.stylize import stylize_files
from imagestyle.feedforward.train import TrainConfig, train
from shared import select_device

PHOTOS = ("astronaut", "coffee", "chelsea", "rocket")
STYLE = "immunohistochemistry"  # a colourful stained-tissue texture


def write_images(folder: Path, size: int) -> tuple[Path, Path]:
    """Write the demo photos (a dataset folder) and the style image; return their paths."""
    from skimage import data

    photos = folder / "photos"
    photos.mkdir(parents=True, exist_ok=True)
    for name in PHOTOS:
        img = Image.fromarray(np.asarray(getattr(data, name)())).convert("RGB")
        img.thumbnail((2 * size, 2 * size))
        img.save(photos / f"{name}.png")
    style = folder / "style.png"
    img = Image.fromarray(np.asarray(getattr(data, STYLE)())).convert("RGB")
    img.thumbnail((size, size))
    img.save(style)
    return photos, style


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--out-dir", default="feedforward_demo",
                   help="where everything is written: a new or empty folder")
    p.add_argument("--steps", type=int, default=60, help="training steps of each network")
    p.add_argument("--image-size", type=int, default=96, help="training crop size (px)")
    p.add_argument("--features", default="random-multiscale",
                   choices=("random-multiscale", "vgg16", "vgg19"),
                   help="feature network of the loss (vgg* need torchvision's ImageNet weights)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    args = p.parse_args(argv)
    out = Path(args.out_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        p.error(f"--out-dir {out} already exists and is not an empty folder; name a new folder "
                "(the demo never deletes or overwrites files)")
    out.mkdir(parents=True, exist_ok=True)
    device = select_device(args.device)
    photos, style = write_images(out, args.image_size)
    common = dict(styles=[str(style)], image_size=args.image_size, steps=args.steps,
                  model=args.features, device=str(device), checkpoint_every=max(1, args.steps // 2))

    print(f"1/4 training a Johnson transform net ({args.steps} steps) on {len(PHOTOS)} photos")
    result = train(TrainConfig(out=str(out / "johnson.pt"), arch="johnson", dataset=str(photos),
                               batch_size=2, width=0.5, **common))
    print(f"    loss {result.losses[0]['total']:.4g} -> {result.losses[-1]['total']:.4g}")

    print("2/4 stylising the photos at their full size")
    written = stylize_files(out / "johnson.pt", sorted(photos.glob("*.png")), out / "stylised",
                            device=device)
    print(f"    {', '.join(str(p) for p in written)}")

    print(f"3/4 training an Ulyanov texture network in texture mode ({args.steps} steps)")
    result = train(TrainConfig(out=str(out / "texture.pt"), arch="texture-net", mode="texture",
                               batch_size=4, pyramid_scales=5, **common))
    print(f"    loss {result.losses[0]['total']:.4g} -> {result.losses[-1]['total']:.4g}")

    print("4/4 sampling three textures (any size: 320x200)")
    samples = sample_files(out / "texture.pt", out / "texture.png", size=(320, 200), count=3,
                           seed=0, device=device)
    print(f"    {', '.join(str(p) for p in samples)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
