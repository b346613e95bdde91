"""Long audio in windows (audiostyle.windows): plans, joins, blocked Griffin-Lim, seams,
Ctrl-C, and the one-window path's bit-identity."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from helpers.audio import RATE, tone
from audiostyle import AudioClip, AudioStyleConfig, load_audio, style_transfer, texture_synthesis
from audiostyle.spectral import (Spectral, griffin_lim, log_spectrogram, spectral_convergence,
                                 stft_frames)
from audiostyle.windows import (griffin_lim_blocks, join_windows, plan_windows, seam_flux,
                                spectral_flux)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
# 1024/256 STFT: the 6-7 s examples have 550-650 frames, so 3-4 windows of 256 frames
LONG = AudioStyleConfig.build(n_fft=1024, hop=256, filters=64, iterations=20, griffin_lim_iters=20,
                        window_frames=256)


@pytest.fixture(scope="module")
def speech() -> AudioClip:
    return load_audio(EXAMPLES / "speech.wav")


@pytest.fixture(scope="module")
def music() -> AudioClip:
    return load_audio(EXAMPLES / "music.wav")


@pytest.mark.parametrize("frames, window, overlap", [
    (100, 256, 64), (256, 256, 64), (257, 256, 64), (1000, 256, 64), (5001, 2048, 64),
    (513, 256, 100)])
def test_plan_windows_covers_every_frame_with_the_overlap(frames, window, overlap) -> None:
    spans = plan_windows(frames, window, overlap)
    assert spans[0][0] == 0 and spans[-1][1] == frames
    assert all(b - a == min(window, frames) for a, b in spans)
    for (a0, b0), (a1, b1) in zip(spans, spans[1:]):
        assert a0 < a1 and b1 > b0 and b0 - a1 >= overlap
    if frames > window:  # the fewest windows: one less could not keep the overlap
        assert (len(spans) - 1) * (window - overlap) < frames - overlap


def test_plan_windows_rejects_an_overlap_as_long_as_the_window() -> None:
    with pytest.raises(ValueError, match="overlap"):
        plan_windows(1000, 64, 64)


def test_join_windows_reassembles_what_was_cut_and_fades_between_different_parts() -> None:
    whole = torch.randn(1, 7, 600)
    spans = plan_windows(600, 200, 64)
    torch.testing.assert_close(join_windows([whole[..., a:b] for a, b in spans], spans),
                               whole)
    ones = [torch.full((1, 7, b - a), float(i)) for i, (a, b) in enumerate(spans)]
    joined = join_windows(ones, spans)[0, 0]  # (600,)
    a1, b0 = spans[1][0], spans[0][1]
    assert torch.all(joined[:a1] == 0) and torch.all(joined[b0:spans[2][0]] == 1)
    assert torch.all(torch.diff(joined[a1 - 1:b0 + 1]) > 0)  # a monotone fade from 0 to 1


@pytest.mark.parametrize("start, stop", [(0, 1), (0, 40), (3, 40), (60, 86), (85, 86), (0, 86)])
def test_stft_frames_equal_the_whole_signals_frames(start, stop) -> None:
    wave = torch.randn(2, 11000)
    window = torch.hann_window(512)
    whole = torch.stft(wave, 512, 128, window=window, center=True, pad_mode="reflect",
                       return_complex=True)  # (2, 257, 86)
    assert whole.shape[-1] == 86
    torch.testing.assert_close(stft_frames(wave, start, stop, 512, 128), whole[..., start:stop])


def test_blocked_griffin_lim_is_as_consistent_as_whole_and_seamless(music) -> None:
    cfg = LONG.replace(griffin_lim_iters=30, window_frames=128, overlap_frames=32,
                              level="content")
    wave = music.samples[:, :140000]  # (1, N): 6.3 s at 22050 Hz
    spec = log_spectrogram(wave, cfg.front.n_fft, cfg.front.hop)  # (1, F, 547): a consistent target
    mag = torch.expm1(spec)
    whole = griffin_lim(mag, cfg.front.n_fft, cfg.front.hop, 30, length=wave.shape[-1],
                        generator=torch.Generator().manual_seed(0))
    blocks, convergence = griffin_lim_blocks(spec, wave.shape[-1], cfg, torch.device("cpu"))
    assert len(plan_windows(spec.shape[-1], 128, cfg.overlap)) >= 5
    reference = spectral_convergence(mag, whole, cfg.front.n_fft, cfg.front.hop)
    assert convergence == pytest.approx(spectral_convergence(mag, blocks, cfg.front.n_fft, cfg.front.hop),
                                        rel=1e-3)
    assert convergence < 1.15 * reference
    seam, p99 = seam_flux(blocks, plan_windows(spec.shape[-1], 128, cfg.overlap), cfg.spectral)
    assert seam <= p99


def test_a_spectrogram_of_one_window_takes_the_whole_file_path_bit_for_bit(speech,
                                                                           music) -> None:
    cfg = LONG.replace(iterations=5, griffin_lim_iters=5, window_frames=2048)
    frames = 1 + speech.samples.shape[-1] // cfg.front.hop
    exact = cfg.replace(window_frames=frames)  # exactly one window
    a = style_transfer(speech, [music], cfg, device="cpu")
    b = style_transfer(speech, [music], exact, device="cpu")
    assert torch.equal(a.waveform, b.waveform) and a.evaluations == b.evaluations
    c = style_transfer(speech, [music], exact.replace(window_frames=frames - 1),
                       device="cpu")
    assert not torch.equal(a.waveform, c.waveform)  # one frame less: two windows


@pytest.mark.parametrize("case", ["speech content, music style", "music content, speech style"])
def test_windowed_transfer_fits_each_window_and_leaves_no_audible_seam(case, speech,
                                                                       music) -> None:
    content, style = (speech, music) if case.startswith("speech") else (music, speech)
    result = style_transfer(content, [style], LONG, device="cpu")
    frames = result.spectrogram.shape[-1]
    spans = plan_windows(frames, LONG.windows.window_frames, LONG.overlap)
    assert len(spans) >= 3 and result.waveform.shape == content.samples.shape
    assert result.stages["spectrogram"]["iterations"] == LONG.optim.iterations * len(spans)
    assert result.stages["spectrogram"]["loss"] < result.stages["spectrogram"]["start_loss"] / 10
    seam, p99 = seam_flux(result.waveform, spans, LONG.spectral)
    assert seam <= p99, f"seam flux {seam:.3f} above the file's 99th percentile {p99:.3f}"


@pytest.mark.parametrize("which", ["music", "speech"])
def test_windowed_texture_flows_across_joins_at_an_even_level(which, speech, music) -> None:
    style = music if which == "music" else speech
    result = texture_synthesis([style], 8.0, LONG, device="cpu")
    spec = result.spectrogram[0]  # (F, T)
    spans = plan_windows(spec.shape[-1], LONG.windows.window_frames, LONG.overlap)
    assert len(spans) >= 4
    level = torch.stack([spec[:, k:k + 32].mean() for k in range(0, spec.shape[-1] - 31, 32)])
    assert level.min() > 0.3 * level.median(), "a stretch of the texture stayed near silence"
    seam, p99 = seam_flux(result.waveform, spans, LONG.spectral)
    assert seam <= p99, f"seam flux {seam:.3f} above the file's 99th percentile {p99:.3f}"


def test_ctrl_c_in_a_window_keeps_the_content_in_the_windows_not_reached(speech, music,
                                                                         monkeypatch,
                                                                         ctrl_c_at) -> None:
    from audiostyle import stages

    real, calls = stages.optimize, []

    def stop_in_second_window(x0, loss_fn, optim, **kwargs):
        calls.append(x0.shape[-1])
        return real(x0, ctrl_c_at(loss_fn, 4) if len(calls) == 2 else loss_fn, optim, **kwargs)

    monkeypatch.setattr(stages, "optimize", stop_in_second_window)
    cfg = LONG.replace(iterations=8, griffin_lim_iters=5)
    result = style_transfer(speech, [music], cfg, device="cpu")
    spans = plan_windows(result.spectrogram.shape[-1], cfg.windows.window_frames, cfg.overlap)
    assert result.interrupted and len(calls) == 2 and len(spans) >= 3
    content = log_spectrogram(speech.samples, cfg.front.n_fft, cfg.front.hop)  # (1, F, T)
    after = spans[1][1]  # beyond the interrupted window: the content's own frames
    torch.testing.assert_close(result.spectrogram[..., after:], content[..., after:])
    assert not torch.allclose(result.spectrogram[..., :spans[1][0]],
                              content[..., :spans[1][0]], atol=1e-2)
    assert torch.isfinite(result.waveform).all()


def test_spectral_flux_is_high_at_a_click_and_low_in_a_steady_tone() -> None:
    wave = tone(1.0, rate=RATE)  # (1, N) steady
    click = wave.clone()
    click[0, RATE // 2] = 1.0
    stft = Spectral(256, 64)
    steady, clicked = spectral_flux(wave, stft), spectral_flux(click, stft)
    assert clicked.max() > 10 * steady[2:-2].max()


@pytest.mark.parametrize("mode", ["transfer, refined from Griffin-Lim", "texture from noise"])
def test_the_waveform_domain_runs_in_chained_windows(mode, speech, music) -> None:
    cfg = LONG.replace(domain="waveform", waveform_iterations=10)
    if mode.startswith("transfer"):
        result = style_transfer(speech, [music], cfg, device="cpu")
    else:
        cfg = cfg.replace(waveform_init="noise")
        result = texture_synthesis([music], 8.0, cfg, device="cpu")
    spans = plan_windows(result.spectrogram.shape[-1], cfg.windows.window_frames, cfg.overlap)
    stage = result.stages["waveform"]
    assert len(spans) >= 3 and stage["iterations"] == 10 * len(spans)
    assert stage["loss"] < stage["start_loss"] / 10
    assert ("spectrogram" in result.stages) == mode.startswith("transfer")
    if mode.startswith("texture"):  # a transfer's level follows its content's pauses
        spec = result.spectrogram[0]  # (F, T): the written samples' own
        level = torch.stack([spec[:, k:k + 32].mean()
                             for k in range(0, spec.shape[-1] - 31, 32)])
        assert level.min() > 0.5 * level.median(), "a stretch stayed quieter than the rest"
    seam, p99 = seam_flux(result.waveform, spans, cfg.spectral)
    assert seam <= p99, f"seam flux {seam:.3f} above the file's 99th percentile {p99:.3f}"


def test_the_windowed_waveform_stage_uses_its_own_network_with_waveform_filters(
        monkeypatch, speech, music) -> None:
    from audiostyle import pipeline

    seen: list[tuple[int, int]] = []
    real = pipeline.refine_windows

    def record(run, job, wave):
        targets = run.style_targets("waveform", job.index)
        seen.append((run.nets["waveform"].filters, int(targets["conv11"].shape[-1])))
        return real(run, job, wave)

    monkeypatch.setattr(pipeline, "refine_windows", record)
    cfg = LONG.replace(domain="waveform", iterations=3, waveform_iterations=3,
                       griffin_lim_iters=2, waveform_filters=80)
    result = style_transfer(speech, [music], cfg, device="cpu")
    spans = plan_windows(result.spectrogram.shape[-1], cfg.windows.window_frames, cfg.overlap)
    assert len(spans) >= 3 and seen == [(80, 80)]
    assert result.stages["waveform"]["iterations"] == 3 * len(spans)
    assert result.stages["waveform"]["loss"] < result.stages["waveform"]["start_loss"]


def test_blocked_griffin_lim_starts_each_block_from_pghi_when_asked(music) -> None:
    cfg = LONG.replace(griffin_lim_iters=0, window_frames=128, overlap_frames=32,
                       level="content")
    spec = log_spectrogram(music.samples[:, :140000], cfg.front.n_fft, cfg.front.hop)  # (1, F, 547)
    _, random_start = griffin_lim_blocks(spec, 140000, cfg, torch.device("cpu"))
    _, pghi_start = griffin_lim_blocks(spec, 140000, cfg.replace(phase_init="pghi"),
                                       torch.device("cpu"))
    assert pghi_start < 0.5 * random_start


def test_a_texture_can_start_griffin_lim_from_pghi(music) -> None:
    cfg = LONG.replace(iterations=5, griffin_lim_iters=0, phase_init="pghi")
    pghi_start = texture_synthesis([music], 2.0, cfg, device="cpu")
    random_start = texture_synthesis([music], 2.0, cfg.replace(phase_init="random"),
                                     device="cpu")
    assert pghi_start.config.reconstruction.phase_init == "pghi"
    assert pghi_start.spectral_convergence < random_start.spectral_convergence


def _stereo(left: AudioClip, right: AudioClip, rate: int) -> AudioClip:
    """Two recordings as the channels of one clip at ``rate`` Hz (the shorter's length)."""
    from audiostyle.dsp import resample

    a, b = (resample(c.samples[:1], c.sample_rate, rate) for c in (left, right))
    n = min(a.shape[-1], b.shape[-1])
    return AudioClip(torch.cat([a[:, :n], b[:, :n]]), rate, "stereo")


def test_a_stereo_transfer_at_an_odd_rate_runs_each_channel_in_seamless_windows(speech,
                                                                                music) -> None:
    """Content and style in stereo at 17640 Hz through windows: every channel keeps its
    content's length and level, its own windows leave no seam, and channel 0 is exactly
    what a mono run of channel 0 gives."""
    from audiostyle.dsp import rms

    content, style = _stereo(speech, music, 17640), _stereo(music, speech, 17640)
    config = LONG.replace(level="content")
    result = style_transfer(content, [style], config, stereo=True, device="cpu")
    assert result.sample_rate == 17640 and result.waveform.shape == content.samples.shape
    torch.testing.assert_close(rms(result.waveform), rms(content.samples), rtol=0.02, atol=0)
    frames = result.spectrogram.shape[-1]
    spans = plan_windows(frames, LONG.windows.window_frames, LONG.overlap)
    assert len(spans) >= 3
    for c in range(2):
        seam, p99 = seam_flux(result.waveform[c:c + 1], spans, LONG.spectral)
        assert seam <= p99, f"channel {c}: seam flux {seam:.3f} above the 99th pct {p99:.3f}"
    left = style_transfer(AudioClip(content.samples[:1], 17640), [AudioClip(style.samples[:1],
                                                                           17640)],
                          config, device="cpu")
    assert torch.equal(result.waveform[:1], left.waveform)


def test_a_stereo_texture_flows_in_each_channel(speech, music) -> None:
    result = texture_synthesis([_stereo(music, speech, 22050)], 8.0, LONG, stereo=True,
                               device="cpu")
    assert result.waveform.shape[0] == 2
    spans = plan_windows(result.spectrogram.shape[-1], LONG.windows.window_frames, LONG.overlap)
    assert len(spans) >= 4
    for c in range(2):
        spec = result.spectrogram[c]  # (F, T)
        level = torch.stack([spec[:, k:k + 32].mean() for k in range(0, spec.shape[-1] - 31, 32)])
        assert level.min() > 0.3 * level.median(), f"channel {c} stayed near silence somewhere"
        seam, p99 = seam_flux(result.waveform[c:c + 1], spans, LONG.spectral)
        assert seam <= p99, f"channel {c}: seam flux {seam:.3f} above the 99th pct {p99:.3f}"
