"""Image files: every mode Pillow reads becomes RGB in [0, 1]; EXIF orientation; saving."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from imagestyle.gatys import GatysConfig
from imagestyle.imageio import (check_size, image_size, load_image, parse_size, save_image,
                                scaled_size, target_size)


def test_exif_orientation_is_honoured(tmp_path: Path) -> None:
    arr = np.zeros((10, 20, 3), np.uint8)
    arr[:, :10] = 255  # left half white
    img = Image.fromarray(arr)
    exif = img.getexif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    path = tmp_path / "rot.jpg"
    img.save(path, exif=exif, quality=100)
    x = load_image(path)
    assert x.shape == (1, 3, 20, 10)  # displayed upright: portrait
    assert x[0, :, :5].mean() > 0.9 and x[0, :, -5:].mean() < 0.1  # white ends up on top


@pytest.mark.parametrize("mode", ["L", "P", "RGBA", "LA", "CMYK", "I;16"])
def test_modes_become_rgb(tmp_path: Path, mode: str) -> None:
    rgb = Image.fromarray((np.random.default_rng(0).random((8, 9, 3)) * 255).astype(np.uint8))
    if mode == "I;16":
        img = Image.fromarray((np.linspace(0, 65535, 72).reshape(8, 9)).astype(np.uint16))
    else:
        img = rgb.convert(mode)
    path = tmp_path / f"img.{'tif' if mode == 'CMYK' else 'png'}"
    img.save(path)
    x = load_image(path)
    assert x.shape == (1, 3, 8, 9) and x.dtype == torch.float32
    assert 0 <= x.min() and x.max() <= 1
    if mode == "I;16":
        assert x.max() > 0.99 and x.min() < 0.01  # full 16-bit range kept, not clipped


def test_transparent_pixels_become_white(tmp_path: Path) -> None:
    img = Image.new("RGBA", (4, 4), (0, 0, 0, 0))
    img.save(tmp_path / "clear.png")
    torch.testing.assert_close(load_image(tmp_path / "clear.png"), torch.ones(1, 3, 4, 4))


def test_resize_and_sizes(tmp_path: Path) -> None:
    Image.new("RGB", (40, 20)).save(tmp_path / "a.png")
    assert load_image(tmp_path / "a.png", 10).shape == (1, 3, 5, 10)
    assert load_image(tmp_path / "a.png", (7, 3)).shape == (1, 3, 3, 7)
    assert target_size((40, 20), 100) == (100, 50)
    assert target_size((40, 20), (7, 3)) == (7, 3)
    assert parse_size("64") == 64 and parse_size("640x480") == (640, 480)


def test_one_size_convention_for_files_tensors_and_scales(tmp_path: Path) -> None:
    Image.new("RGB", (41, 17)).save(tmp_path / "odd.png")
    image = load_image(tmp_path / "odd.png", 30)
    assert image_size(image) == target_size((41, 17), 30) == (30, 12)  # (W, H) everywhere
    assert scaled_size((41, 17), 0.5) == (20, 8)  # rounded, not truncated
    assert scaled_size((41, 1), 0.1) == (4, 1)  # never below 1 px


@pytest.mark.parametrize("bad", ["0", "x", "10x-1", "big"])
def test_bad_sizes_are_value_errors(bad: str) -> None:
    with pytest.raises(ValueError, match="size must be N or WxH"):
        parse_size(bad)


BAD_REQUESTED_SIZES = [
    pytest.param(0, id="zero"), pytest.param(-3, id="negative"), pytest.param(2.5, id="float"),
    pytest.param(True, id="bool"), pytest.param("64", id="string"),
    pytest.param((0, 4), id="zero width"), pytest.param((4,), id="one side"),
    pytest.param((4, 4, 4), id="three sides"), pytest.param((4.0, 3), id="float side"),
]
SIZE_TAKERS = {
    "check_size": lambda size, path: check_size(size),
    "load_image": lambda size, path: load_image(path, size=size),
    "GatysConfig": lambda size, path: GatysConfig(size=size),
}


@pytest.mark.parametrize("taker", list(SIZE_TAKERS))
@pytest.mark.parametrize("bad", BAD_REQUESTED_SIZES)
def test_bad_requested_sizes_are_value_errors_naming_size(tmp_path: Path, taker: str,
                                                          bad: object) -> None:
    """A requested size is N (the longest side) or (W, H); anything else is a ValueError that
    names the parameter ``size`` (never a flag)."""
    Image.new("RGB", (8, 6)).save(tmp_path / "a.png")
    with pytest.raises(ValueError, match=r"^size must be N \(a positive integer: the longest "
                                         r"side\) or \(W, H\)") as info:
        SIZE_TAKERS[taker](bad, tmp_path / "a.png")
    assert "--" not in str(info.value)


def test_save_round_trip_and_formats(tmp_path: Path) -> None:
    x = torch.rand(1, 3, 6, 7)
    save_image(x, tmp_path / "o.png")
    torch.testing.assert_close(load_image(tmp_path / "o.png"), x, atol=1 / 255, rtol=0)
    save_image(x, tmp_path / "o.jpg")
    with Image.open(tmp_path / "o.jpg") as img:
        assert img.format == "JPEG"
    with pytest.raises(ValueError, match="unsupported output extension"):
        save_image(x, tmp_path / "o.xyz")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.jpg", "o.png"]  # no temp files
