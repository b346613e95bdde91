"""audiostyle.plots: long clips are drawn from a pooled spectrogram computed block by block."""

from __future__ import annotations

import torch

from audiostyle.plots import MAX_COLUMNS, display_magnitude, plot_spectrograms
from audiostyle.spectral import magnitude


def test_a_long_clip_is_drawn_max_pooled_to_at_most_max_columns() -> None:
    wave = torch.randn(64 * (3 * MAX_COLUMNS + 100), generator=torch.Generator().manual_seed(0))
    pooled, stride = display_magnitude(wave, 256, 64)
    full = magnitude(wave, 256, 64)  # (F, T)
    assert stride == 4 and pooled.shape[-1] <= MAX_COLUMNS
    expected = torch.nn.functional.max_pool1d(full[None], stride, stride, ceil_mode=True)[0]
    torch.testing.assert_close(pooled, expected)


def test_a_short_clip_is_drawn_frame_by_frame(tmp_path) -> None:
    wave = torch.randn(1, 8000)
    pooled, stride = display_magnitude(wave[0], 256, 64)
    assert stride == 1 and torch.equal(pooled, magnitude(wave[0], 256, 64))
    out = tmp_path / "p.png"
    plot_spectrograms([("a", wave, 8000), ("long", torch.randn(1, 64 * 5000), 8000)], out,
                      loss_history=[[{"total": 2.0, "style": 1.0}, {"total": 1.0, "style": 0.5}]],
                      n_fft=256, hop=64)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
