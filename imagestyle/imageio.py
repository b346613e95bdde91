"""Reading and writing images as float tensors.

Images are ``(1, 3, H, W)`` RGB tensors in [0, 1]. Any format Pillow reads is accepted; EXIF
orientation is honoured; greyscale, palette, RGBA (composited on white), CMYK and 16-bit
images are converted to 8-bit-equivalent RGB.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from shared import atomic_path, check_input_file

SAVE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".bmp": "BMP", ".tif": "TIFF",
                ".tiff": "TIFF", ".webp": "WEBP"}


def _to_rgb(img: "PIL.Image.Image") -> "PIL.Image.Image":  # noqa: F821
    from PIL import Image

    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img, dtype=np.float64)
        peak = 65535.0 if arr.max() > 255 else 255.0
        img = Image.fromarray(np.clip(arr / peak * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")
    elif img.mode == "F":
        arr = np.asarray(img, dtype=np.float64)
        img = Image.fromarray(np.clip(arr * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")
    if img.mode == "P":
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA"):
        img = img.convert("RGBA")
        background = Image.new("RGBA", img.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, img)
    return img.convert("RGB")


def load_image(path: str | Path, size: int | tuple[int, int] | None = None) -> Tensor:
    """Read an image file as a ``(1, 3, H, W)`` float32 RGB tensor in [0, 1].

    Args:
        path: Any file Pillow reads.
        size: ``None`` keeps the size; else :func:`target_size`'s meaning: ``N`` scales so
            the longest side is N (the image's aspect kept), ``(W, H)`` resizes to exactly W x H.
            Resampling is Lanczos (antialiased).

    Raises:
        FileNotFoundError: a missing file.
        ValueError: a folder, an empty, truncated or non-image file, or a bad ``size``.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    if size is not None:
        check_size(size)
    path = check_input_file(path, "an image")
    try:
        with Image.open(path) as img:
            img.load()
            img = ImageOps.exif_transpose(img)
            img = _to_rgb(img)
    except UnidentifiedImageError:
        raise ValueError(f"{path}: not an image Pillow can read") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ValueError(f"{path}: cannot read image ({' '.join(str(exc).split())})") from None
    if size is not None:
        img = img.resize(target_size(img.size, size), Image.LANCZOS)
    arr = np.asarray(img, dtype=np.float32) / 255.0  # (H, W, 3)
    return torch.from_numpy(arr.copy()).permute(2, 0, 1).unsqueeze(0)  # (1, 3, H, W)


def scaled_size(size: tuple[int, int], scale: float) -> tuple[int, int]:
    """``(W, H)`` of an image of size ``size = (W, H)`` scaled by ``scale``: each side rounded to
    the nearest pixel and at least 1.

    The one computation of a resized image's size in :mod:`imagestyle`. Sizes are ``(W, H)``
    everywhere (Pillow's order, and that of a ``WxH`` size); a tensor's ``(..., H, W)`` shape
    is read with :func:`image_size`.
    """
    w, h = size
    return (max(1, round(w * scale)), max(1, round(h * scale)))


def check_size(size: object, name: str = "size") -> int | tuple[int, int]:
    """Return ``size`` if it is a requested image size, else raise ``ValueError`` naming
    ``name``: ``N``, a positive int (the longest side, :func:`target_size`), or ``(W, H)``, two
    positive ints (exactly W x H)."""
    def positive_int(v: object) -> bool:
        return isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 1

    if positive_int(size):
        return int(size)  # type: ignore[call-overload]
    if isinstance(size, (tuple, list)) and len(size) == 2 and all(map(positive_int, size)):
        return (int(size[0]), int(size[1]))
    raise ValueError(f"{name} must be N (a positive integer: the longest side) or (W, H) (two "
                     f"positive integers: exactly W x H), got {size!r}")


def target_size(size: tuple[int, int], target: int | tuple[int, int]) -> tuple[int, int]:
    """``(W, H)`` of an image of size ``size = (W, H)`` resized to ``target``.

    The one meaning of a requested size in :mod:`imagestyle` (``GatysConfig.size``,
    ``load_image(size=)``, ``stylize_files(size=)``, ``sample_files(size=)``, and the command
    lines' size option): ``target = N`` is the longest side N with ``size``'s aspect
    (:func:`scaled_size`), ``target = (W, H)`` exactly W x H.

    Raises:
        ValueError: ``target`` is neither (:func:`check_size`).
    """
    target = check_size(target, "target")
    if isinstance(target, tuple):
        return target
    return scaled_size(size, target / max(size))


def image_size(image: Tensor) -> tuple[int, int]:
    """``(W, H)`` of an image tensor ``(..., H, W)``."""
    return (int(image.shape[-1]), int(image.shape[-2]))


def parse_size(text: str) -> int | tuple[int, int]:
    """Parse ``"512"`` -> 512 (the longest side) or ``"640x480"`` -> (640, 480) (exactly width x
    height), as :func:`target_size` takes them; ``ValueError`` for anything else."""
    t = text.lower().strip()
    try:
        if "x" in t:
            w, h = (int(v) for v in t.split("x"))
            if w < 1 or h < 1:
                raise ValueError
            return (w, h)
        n = int(t)
        if n < 1:
            raise ValueError
        return n
    except ValueError:
        raise ValueError(f"size must be N or WxH with positive integers, got {text!r}") from None


def to_pil(image: Tensor) -> "PIL.Image.Image":  # noqa: F821
    """``(1, 3, H, W)`` or ``(3, H, W)`` tensor in [0, 1] -> 8-bit RGB PIL image (clamped)."""
    from PIL import Image

    if image.dim() == 4:
        if image.shape[0] != 1:
            raise ValueError(f"to_pil takes one image, got a batch of {image.shape[0]}")
        image = image[0]
    if image.dim() != 3 or image.shape[0] != 3:
        raise ValueError(f"expected (3, H, W), got {tuple(image.shape)}")
    arr = (image.detach().float().clamp(0, 1) * 255.0 + 0.5).to(torch.uint8)
    return Image.fromarray(arr.permute(1, 2, 0).cpu().numpy(), "RGB")


def save_image(image: Tensor, path: str | Path, quality: int = 95) -> Path:
    """Write a ``(1, 3, H, W)`` / ``(3, H, W)`` image atomically; format from the extension."""
    path = Path(path)
    fmt = SAVE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"{path}: unsupported output extension {path.suffix!r}; use one of "
                         f"{', '.join(sorted(SAVE_FORMATS))}")
    pil = to_pil(image)
    with atomic_path(path) as tmp:
        kwargs = {"quality": quality} if fmt in ("JPEG", "WEBP") else {}
        pil.save(tmp, format=fmt, **kwargs)
    return path
