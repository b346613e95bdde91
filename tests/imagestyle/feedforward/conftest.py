"""Fixtures of the feed-forward tests: tiny training settings (the photo folder ``photo_dir`` and
the style image ``style_png`` come from ``tests/conftest.py``).

Everything runs on the CPU at 32 px with the random multi-scale feature network (two small
scales), so a training step takes a fraction of a second.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers.feedforward import tiny_config


@pytest.fixture
def make_config(tmp_path: Path, photo_dir: Path, style_png: Path):
    """``make_config(**overrides) -> TrainConfig`` for a tiny run writing into tmp_path."""

    def make(**overrides):
        return tiny_config(tmp_path, photo_dir, style_png, **overrides)

    return make
