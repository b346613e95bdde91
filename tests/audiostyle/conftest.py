"""Tiny signals and settings for the audiostyle tests (seconds, not minutes, on 2 CPU cores)."""

from __future__ import annotations

import pytest

from helpers.audio import RATE, clicks, tone
from audiostyle import AudioClip, AudioStyleConfig


@pytest.fixture
def tiny_config() -> AudioStyleConfig:
    # level="content": these tests check the RMS match; the optimised level (the default) is
    # tested in test_transfer.py::test_the_result_keeps_the_optimised_level
    return AudioStyleConfig.build(sample_rate=RATE, n_fft=256, hop=64, filters=32, kernel_widths=(5,),
                            iterations=15, griffin_lim_iters=10, seed=0, level="content")


@pytest.fixture
def content_clip() -> AudioClip:
    return AudioClip(tone(1.0), RATE, "content.wav")


@pytest.fixture
def style_clip() -> AudioClip:
    return AudioClip(clicks(1.5), RATE, "style.wav")
