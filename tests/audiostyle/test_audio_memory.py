"""The memory estimate of an audio run (audiostyle.memory): what it counts, what it refuses,
and how close it comes to the measured peak."""

from __future__ import annotations

import textwrap

import pytest

from helpers.audio import RATE, clicks
from helpers.peaks import estimate_and_peaks

from audiostyle import AudioClip, AudioStyleConfig, texture_synthesis
from audiostyle.memory import estimate


def test_the_estimate_grows_with_filters_squared_and_with_length() -> None:
    cfg = AudioStyleConfig()
    base = estimate(cfg, 220500, 1, [220500], 220500, "seconds")
    filters = estimate(cfg.replace(filters=8192), 220500, 1, [220500], 220500, "seconds")
    long = estimate(cfg, 100 * 220500, 1, [220500], 100 * 220500, "seconds")
    grams = filters.parts["Gram matrices"][0] / base.parts["Gram matrices"][0]
    assert grams == pytest.approx(4.0) and filters.culprits() == ["filters"]
    assert long.total() > base.total() and "seconds" not in base.culprits()
    huge = estimate(cfg, int(1e9 * 22050), 1, [220500], int(1e9 * 22050), "seconds")
    assert huge.total() > 1e14 and huge.culprits() == ["seconds"]


def test_a_texture_of_a_typo_length_is_refused_before_any_work(monkeypatch) -> None:
    def never(*args, **kwargs):
        raise AssertionError("the pipeline started")

    monkeypatch.setattr("audiostyle.api.new_run", never)
    style = AudioClip(clicks(1.5), RATE, "style.wav")
    cfg = AudioStyleConfig.build(sample_rate=RATE, n_fft=256, hop=64, filters=32)
    with pytest.raises(ValueError, match=r"^needs about \d+ TB of memory for seconds 1e\+09 "
                                         r"with filters 32; .* available: lower seconds$"):
        texture_synthesis([style], 1e9, cfg, device="cpu")


SETUP = textwrap.dedent("""
    import math, torch
    from audiostyle import AudioClip, preset_config, style_transfer, texture_synthesis
    from audiostyle.memory import estimate as count
    t = torch.arange(int({seconds} * 22050)) / 22050
    g = torch.Generator().manual_seed(0)
    wave = (0.3 * torch.sin(2 * math.pi * 330 * t) + 0.05 * torch.randn(len(t), generator=g))
    clip = AudioClip(wave[None].float(), 22050, "x.wav")
    cfg = preset_config({preset!r}, {mode!r}, **{settings!r}).replace(tonal=None)  # main route
    n = int(round({seconds} * 22050))
    estimate = count(cfg, n, 1, [clip.frames], n, "seconds").total()
""")


@pytest.mark.slow
@pytest.mark.parametrize("preset, mode, seconds, settings", [
    ("default", "transfer", 10, dict(iterations=1, griffin_lim_iters=1)),  # 4096 filters
    ("best", "transfer", 8, dict(filters=1024, iterations=1, waveform_iterations=1,
                                 griffin_lim_iters=1)),
    ("default", "texture", 240, dict(filters=64, iterations=1, griffin_lim_iters=1)),  # windows
], ids=["reference transfer", "best, two networks", "long texture in windows"])
def test_the_estimate_covers_the_tensors_and_the_resident_peak(preset, mode, seconds,
                                                               settings) -> None:
    """The estimate counts at least the tensors the run holds at once and at most twice them
    (both exact: the tensor peak is the same on every run), and the resident peak, which
    varies from run to run by the allocator's heap, stays within 1.5x of it."""
    run = ("style_transfer(clip, [clip], cfg, device='cpu')" if mode == "transfer" else
           f"texture_synthesis([clip], {seconds}, cfg, device='cpu')")
    est, resident, tensors = estimate_and_peaks(
        SETUP.format(preset=preset, mode=mode, seconds=seconds, settings=settings), run)
    sizes = (est / 1e6, resident / 1e6, tensors / 1e6)
    assert tensors <= est <= 2 * tensors, sizes
    assert resident <= 1.5 * est, sizes
