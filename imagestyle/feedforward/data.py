"""Training images: any folder of images, searched recursively, resized and randomly cropped.

Johnson et al. (2016) trained on MS-COCO resized to 256x256; nothing here assumes COCO. Random
crops are a pure function of ``(seed, epoch, index)``, and :class:`ResumableSampler` can start
part-way through an epoch, so a resumed run sees exactly the batches an uninterrupted run would,
with any number of data-loader workers.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import Dataset

from shared.training import ResumableSampler, batches_per_epoch

from ..imageio import image_size, load_image, scaled_size

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pnm"}
)


def find_images(folder: str | Path) -> tuple[list[Path], list[Path]]:
    """Image files under ``folder`` (recursive, sorted), split into readable and unreadable.

    A file is readable if Pillow recognises its header; files whose pixels turn out to be damaged
    are skipped later, when they are loaded.

    Raises:
        FileNotFoundError: ``folder`` is missing.
        ValueError: ``folder`` is not a folder, or holds no image files at all.
    """
    from PIL import Image, UnidentifiedImageError

    root = Path(folder)
    if not root.exists():
        raise FileNotFoundError(f"dataset folder does not exist: {root}")
    if not root.is_dir():
        raise ValueError(f"dataset is not a folder: {root}")
    candidates = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())
    if not candidates:
        raise ValueError(f"dataset folder {root} holds no images (searched recursively for "
                         f"{', '.join(sorted(IMAGE_EXTENSIONS))})")
    good: list[Path] = []
    bad: list[Path] = []
    for path in candidates:
        try:
            with Image.open(path) as img:
                img.size  # noqa: B018 - header parsed
            good.append(path)
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
            bad.append(path)
    if not good:
        raise ValueError(f"none of the {len(candidates)} image files in {root} can be read")
    return good, bad


def resize_crop(image: Tensor, size: int, rng: np.random.Generator) -> Tensor:
    """Scale ``(1, 3, H, W)`` so its shorter side is ``size``, then crop ``size x size`` at a
    random position drawn from ``rng``. Returns ``(3, size, size)``."""
    w, h = image_size(image)
    new_w, new_h = (max(size, side) for side in scaled_size((w, h), size / min(h, w)))
    if (new_h, new_w) != (h, w):
        image = F.interpolate(image, size=(new_h, new_w), mode="bilinear", align_corners=False,
                              antialias=True)
    top = int(rng.integers(0, new_h - size + 1))
    left = int(rng.integers(0, new_w - size + 1))
    return image[0, :, top:top + size, left:left + size].clamp(0, 1).contiguous()  # (3, S, S)


class ImageFolderDataset(Dataset):
    """Images of a folder tree as ``(3, size, size)`` float tensors in [0, 1].

    Args:
        folder: Root folder, searched recursively.
        size: Side of the square crops.
        seed: Seed of the crop positions (with the epoch and the index).
        log: Print the number of skipped unreadable files on stderr.
    """

    def __init__(self, folder: str | Path, size: int, seed: int = 0, log: bool = True) -> None:
        if size < 1:
            raise ValueError(f"size must be >= 1, got {size}")
        self.files, unreadable = find_images(folder)
        self.skipped = len(unreadable)
        self.size = size
        self.seed = seed
        self.epoch = 0
        if unreadable and log:
            print(f"dataset: {len(self.files)} images, skipped {len(unreadable)} unreadable "
                  f"file(s) (e.g. {unreadable[0]})", file=sys.stderr)

    def set_epoch(self, epoch: int) -> None:
        """Crops depend on the epoch; call before iterating (workers copy the dataset then)."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> Tensor:
        for attempt in range(len(self.files)):
            i = (index + attempt) % len(self.files)
            try:
                image = load_image(self.files[i])  # (1, 3, H, W)
            except (ValueError, FileNotFoundError) as exc:
                warnings.warn(f"skipping unreadable training image: {exc}", stacklevel=2)
                continue
            rng = np.random.default_rng([self.seed, self.epoch, index])
            return resize_crop(image, self.size, rng)
        raise ValueError("no training image could be decoded")


__all__ = ["IMAGE_EXTENSIONS", "ImageFolderDataset", "ResumableSampler", "batches_per_epoch",
           "find_images", "resize_crop"]
