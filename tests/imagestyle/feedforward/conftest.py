"""Fixtures of the feed-forward tests: a tiny photo folder, a style image, tiny training settings.

Everything runs on the CPU at 32 px with the random multi-scale feature network (two small
scales), so a training step takes a fraction of a second.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))

from ff_helpers import tiny_config  # noqa: E402


def _photo(seed: int, h: int, w: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    base = np.stack([np.sin(6 * x + seed), np.cos(5 * y - seed), np.sin(3 * (x + y))], -1)
    img = 0.5 + 0.35 * base + 0.1 * rng.standard_normal((h, w, 3))
    return (np.clip(img, 0, 1) * 255).astype(np.uint8)


@pytest.fixture
def photo_dir(tmp_path: Path) -> Path:
    """Six readable photos (two in a subfolder, one JPEG), one broken file, one non-image."""
    root = tmp_path / "photos"
    (root / "nested" / "deeper").mkdir(parents=True)
    sizes = [(40, 48), (36, 36), (48, 40), (32, 50), (44, 44), (38, 42)]
    for i, (h, w) in enumerate(sizes):
        folder = root / ("nested/deeper" if i in (1, 4) else "")
        ext = ".jpg" if i == 2 else ".png"
        Image.fromarray(_photo(i, h, w)).save(folder / f"photo{i}{ext}")
    (root / "broken.png").write_bytes(b"\x89PNG not really")
    (root / "notes.txt").write_text("not an image")
    return root


@pytest.fixture
def style_png(tmp_path: Path) -> Path:
    path = tmp_path / "style.png"
    rng = np.random.default_rng(7)
    stripes = (np.indices((32, 32)).sum(0) % 8 < 4)[..., None] * np.array([200, 60, 30])
    img = np.clip(stripes + rng.integers(0, 40, (32, 32, 3)), 0, 255).astype(np.uint8)
    Image.fromarray(img).save(path)
    return path


@pytest.fixture
def make_config(tmp_path: Path, photo_dir: Path, style_png: Path):
    """``make_config(**overrides) -> TrainConfig`` for a tiny run writing into tmp_path."""

    def make(**overrides):
        return tiny_config(tmp_path, photo_dir, style_png, **overrides)

    return make
