"""The held-out quality measures: zero at the target, the whole-clip Gram formula, blends,
chunking, rates, and the CLI's metrics file."""

from __future__ import annotations

import json

import pytest
import torch

from helpers.audio import clicks, tone, write_wav
from audiostyle.dsp import resample
from audiostyle.cli import main
from audiostyle.bands import out_of_band_share
from audiostyle.quality import (HELDOUT_MIN_SECONDS, content_distance, gap_closed,
                                heldout_network, heldout_style_distance, measured_wave,
                                onset_period, quality_measures)
from audiostyle.spectral import log_spectrogram
from shared import gram_matrix

RATE = 22050


def test_the_style_is_at_distance_zero_and_other_audio_is_not() -> None:
    style = clicks(1.5, RATE)
    assert heldout_style_distance(style, [style], RATE) == pytest.approx(0.0, abs=1e-6)
    assert heldout_style_distance(tone(1.5, RATE), [style], RATE) > 0.3


def test_it_is_the_relative_gram_distance_of_the_whole_features() -> None:
    wave, style = tone(2.0, RATE), clicks(1.5, RATE)
    net = heldout_network()
    with torch.no_grad():
        g = [{k: gram_matrix(v) for k, v in net(log_spectrogram(
            measured_wave(x, RATE), 2048, 512)).items()} for x in (wave, style)]
    want = sum(float((g[0][k] - g[1][k]).norm() / g[1][k].norm()) for k in g[1]) / 2
    assert heldout_style_distance(wave, [style], RATE) == pytest.approx(want, rel=1e-5)


@pytest.mark.parametrize("gain", [0.05, 0.3, 2.0])
def test_every_measure_reads_a_clip_at_one_loudness(gain: float) -> None:
    """A quieter or louder copy of the result measures the same: log1p|STFT| is not
    scale-invariant, so a measure of the written level would reward the level itself."""
    wave, style, content = tone(2.0, RATE), clicks(1.5, RATE), tone(2.0, RATE, freqs=(500.0,))
    assert heldout_style_distance(gain * wave, [style], RATE) == pytest.approx(
        heldout_style_distance(wave, [style], RATE), rel=1e-4)
    assert content_distance(gain * wave, content, RATE) == pytest.approx(
        content_distance(wave, content, RATE), rel=1e-4)
    assert out_of_band_share(gain * wave, RATE, [style], [RATE]) == pytest.approx(
        out_of_band_share(wave, RATE, [style], [RATE]), abs=1e-9)


def test_styles_blend_and_rates_are_resampled() -> None:
    wave, a, b = tone(1.5, RATE), clicks(1.5, RATE), tone(1.5, RATE, freqs=(500.0,))
    only_a = heldout_style_distance(wave, [a], RATE)
    assert heldout_style_distance(wave, [a, b], RATE, style_weights=[1.0, 0.0]) == \
        pytest.approx(only_a, rel=1e-6)
    a16 = resample(a, RATE, 16000)
    assert heldout_style_distance(wave, [a16], RATE, [16000]) == pytest.approx(only_a, rel=0.05)


def test_content_distance_is_zero_for_the_content_and_chunks_change_nothing() -> None:
    content, other = tone(3.0, RATE), clicks(3.0, RATE)
    assert content_distance(content, content, RATE) == 0.0
    whole = content_distance(other, content, RATE)
    assert whole > 0.3
    assert content_distance(other, content, RATE, chunk_frames=7) == pytest.approx(whole,
                                                                                  rel=1e-5)
    assert gap_closed(0.25, 1.0) == 0.75


def test_too_short_a_clip_raises_a_value_error_naming_it() -> None:
    with pytest.raises(ValueError, match="wave must last"):
        heldout_style_distance(tone(0.5 * HELDOUT_MIN_SECONDS, RATE), [clicks(1.0, RATE)], RATE)


def test_transfer_metrics_report_the_held_out_measures(tmp_path) -> None:
    content = write_wav(tmp_path / "c.wav", tone(1.0), 8000)
    style = write_wav(tmp_path / "s.wav", clicks(1.5), 8000)
    out, metrics = tmp_path / "out.wav", tmp_path / "m.json"
    assert main(["transfer", content, style, "-o", str(out), "--metrics", str(metrics),
                 "--sample-rate", "8000", "--n-fft", "256", "--hop", "64", "--filters", "16",
                 "--kernel-width", "5", "--iterations", "5", "--griffin-lim-iters", "5",
                 "--quiet", "--device", "cpu"]) == 0
    q = json.loads(metrics.read_text())["quality"]
    from audiostyle import load_audio

    written, c, s = (load_audio(p) for p in (out, content, style))
    assert q["heldout_style_distance"] == pytest.approx(
        heldout_style_distance(written.samples, [s.samples], 8000), rel=1e-3)
    assert q["content_heldout_style_distance"] == pytest.approx(
        heldout_style_distance(c.samples, [s.samples], 8000), rel=1e-6)
    assert q["gap_closed"] == pytest.approx(gap_closed(q["heldout_style_distance"],
                                                       q["content_heldout_style_distance"]))
    assert q["content_distance"] == pytest.approx(
        content_distance(written.samples, c.samples, 8000), rel=1e-3)


def test_a_stereo_result_is_measured_channel_by_channel() -> None:
    """Each channel against its content channel and the style; the mean is reported, and the
    downmix apart: a channel and its polarity inverse each have the style's texture, but
    their downmix is silence, far from it."""
    style = clicks(1.5, RATE)  # (1, N)
    wave = torch.cat([style, -style])  # (2, N)
    content = torch.cat([tone(1.5, RATE), tone(1.5, RATE, freqs=(500.0,))])  # (2, N)
    q = quality_measures(wave, RATE, [style], [RATE], content=content, content_rate=RATE)
    assert len(q["per_channel"]) == 2
    for k, ch in enumerate(q["per_channel"]):
        assert ch["heldout_style_distance"] == pytest.approx(0.0, abs=1e-5)
        assert ch["content_heldout_style_distance"] == pytest.approx(
            heldout_style_distance(content[k:k + 1], [style], RATE), rel=1e-6)
        assert ch["content_distance"] == pytest.approx(
            content_distance(wave[k:k + 1], content[k:k + 1], RATE), rel=1e-6)
    for key in ("heldout_style_distance", "gap_closed", "content_distance"):
        assert q[key] == pytest.approx(sum(ch[key] for ch in q["per_channel"]) / 2)
    assert q["gap_closed"] == pytest.approx(1.0, abs=1e-5)
    assert q["downmix"]["heldout_style_distance"] > 0.5  # silence is no texture of clicks


def test_a_stereo_styles_channels_measure_their_own_channels() -> None:
    left, right = clicks(1.5, RATE), tone(1.5, RATE)
    q = quality_measures(torch.cat([left, right]), RATE, [torch.cat([left, right])], [RATE])
    assert q["heldout_style_distance"] == pytest.approx(0.0, abs=1e-5)
    assert q["content_distance"] is None and q["per_channel"][1]["gap_closed"] is None
    mono = quality_measures(left, RATE, [torch.cat([left, right])], [RATE])
    assert "per_channel" not in mono
    assert mono["heldout_style_distance"] == pytest.approx(
        heldout_style_distance(left, [torch.cat([left, right])], RATE), rel=1e-6)


@pytest.mark.parametrize("period", [0.451, 0.5, 0.613])
def test_onset_period_reads_one_period_not_a_multiple(period: float) -> None:
    # A steady click track's autocorrelation is as high at two or three periods as at one,
    # and these periods are not whole 512-sample frames: the highest peak at hop 512 read
    # 0.906, 0.998 and 1.834 s here.
    n = 8 * RATE
    g = torch.Generator().manual_seed(0)
    wave = torch.zeros(1, n)
    for k in range(int((n / RATE - 0.2) / period)):
        i = int(round((0.1 + k * period) * RATE))
        wave[0, i:i + 400] += torch.randn(400, generator=g) * torch.exp(-torch.arange(400) / 60)
    assert onset_period(wave, RATE) == pytest.approx(period, rel=0.02)


def test_onset_period_finds_a_click_tracks_period() -> None:
    n = 4 * RATE
    g = torch.Generator().manual_seed(0)
    env = torch.exp(-(torch.arange(n) % int(0.5 * RATE)).float() / (RATE / 100))
    wave = (torch.randn(n, generator=g) * (0.01 + 0.5 * env))[None]  # (1, N)
    assert onset_period(wave, RATE, 0.3, 0.8) == pytest.approx(0.5, abs=0.025)
    with pytest.raises(ValueError, match="min_seconds"):
        onset_period(wave, RATE, 1.0, 0.5)
