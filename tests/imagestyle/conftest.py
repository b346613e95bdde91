"""Fixtures of the image tests: image files and small VGG weight files."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from helpers.images import smooth_image, texture_image, vgg_state, write_png


@pytest.fixture(autouse=True)
def _one_thread(request: pytest.FixtureRequest) -> None:
    """Every image test but the feed-forward ones (which keep their own settings) runs on one
    thread (``tests/conftest.py``'s ``one_thread``)."""
    if "feedforward" not in str(request.node.path):
        request.getfixturevalue("one_thread")


@pytest.fixture
def content_file(tmp_path: Path) -> Path:
    return write_png(smooth_image(24, 32, seed=1), tmp_path / "content.png")


@pytest.fixture
def style_file(tmp_path: Path) -> Path:
    return write_png(texture_image(32, 32, seed=2), tmp_path / "style.png")


@pytest.fixture
def style2_file(tmp_path: Path) -> Path:
    return write_png(texture_image(40, 28, seed=3).flip(1), tmp_path / "style2.jpg")



@pytest.fixture(scope="session")
def vgg16_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("weights") / "vgg16-small.pth"
    torch.save(vgg_state("vgg16"), path)
    return path
