"""Fixtures every test folder shares: image files, a folder of training photos, one-thread runs.

They live here because ``tests/cli`` sees no other folder's conftest: the library tests
(``tests/imagestyle``) and the command-line tests (``tests/cli``) write their images with the
same helpers.
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import torch
from PIL import Image

# A suite started in the background by a non-interactive shell (`cmd &`) inherits SIGINT
# ignored, and Python then installs no KeyboardInterrupt handler, for itself or for the CLIs it
# starts; the Ctrl-C tests need the handler a terminal user has, so install it here.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

WritePng = Callable[..., Path]


def _noise_png(path: Path, w: int, h: int, seed: int = 0, mode: str = "RGB") -> Path:
    """Write a ``w`` x ``h`` image of seeded uniform noise (converted to ``mode``: "L", "P"...,
    in the format of ``path``'s extension) and return ``path``."""
    rng = np.random.default_rng(seed)
    img = Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8), "RGB")
    if mode != "RGB":
        img = img.convert(mode)
    img.save(path)
    return path


@pytest.fixture(scope="session")
def random_png() -> WritePng:
    """``random_png(path, w, h, seed=0, mode="RGB") -> path``: a seeded noise image file."""
    return _noise_png


@pytest.fixture
def one_thread():
    """Run the test on one torch thread: tiny tensors run fastest so, and on a busy machine
    OpenMP's spinning threads can slow a 32 px step a hundredfold."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _photo(seed: int, h: int, w: int) -> np.ndarray:
    """A smooth colourful ``(h, w, 3)`` uint8 "photo" with a little noise."""
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
    """A 32 x 32 striped style image with a little noise."""
    path = tmp_path / "style.png"
    rng = np.random.default_rng(7)
    stripes = (np.indices((32, 32)).sum(0) % 8 < 4)[..., None] * np.array([200, 60, 30])
    img = np.clip(stripes + rng.integers(0, 40, (32, 32, 3)), 0, 255).astype(np.uint8)
    Image.fromarray(img).save(path)
    return path


@pytest.fixture
def ctrl_c_at():
    """``ctrl_c_at(loss_fn, n)``: ``loss_fn`` that raises KeyboardInterrupt at its n-th call,
    as a user's Ctrl-C inside an optimisation would."""

    def wrap(loss_fn, n: int):
        calls = [0]

        def stopping(x):
            calls[0] += 1
            if calls[0] == n:
                raise KeyboardInterrupt
            return loss_fn(x)

        return stopping

    return wrap
