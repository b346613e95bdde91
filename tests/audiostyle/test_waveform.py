"""The waveform domain (Mital 2017; Barry & Kim 2017; Caracalla & Roebel 2020) at tiny sizes: the
differentiable spectrogram, the loss falling in the waveform stage, the written result matching
the style better than Griffin-Lim's, every start, stereo, bad settings, CUDA."""

from __future__ import annotations


import pytest
import torch
from torch import Tensor

from helpers.audio import RATE, clicks, tone
from audiostyle import (AudioClip, AudioStyleConfig, RandomConvBank, style_transfer,
                        texture_synthesis)
from audiostyle.dsp import (LIMIT_KNEE, PEAK_LIMIT, START_CEILING, match_level, rms, soft_limit,
                            soft_limit_start, start_gain)
from audiostyle.spectral import log_spectrogram
from audiostyle.bands import band_shares, out_of_band_share
from audiostyle.objective import WAVEFORM_EPS, waveform_loss
from audiostyle.spectral import Spectral
from audiostyle.stages import shaped_noise, style_spectrum
from audiostyle.targets import style_grams
from shared import StyleContentObjective


@pytest.fixture
def waveform_config(tiny_config) -> AudioStyleConfig:
    return tiny_config.replace(domain="waveform")


def test_the_differentiable_spectrogram_is_the_spectrogram_with_a_finite_gradient() -> None:
    g = torch.Generator().manual_seed(0)
    wave = torch.randn(2, 3, 1000, generator=g) * 0.1  # (B, C, N)
    wave[1, 2] = 0.0  # silence: |STFT| = 0, where d|z|/dz has no limit
    exact = log_spectrogram(wave, 256, 64)  # (B, C, F, T)
    smooth = log_spectrogram(wave, 256, 64, eps=WAVEFORM_EPS)
    assert smooth.shape == exact.shape == (2, 3, 129, 16)
    torch.testing.assert_close(smooth, exact, rtol=0, atol=2e-6)
    x = wave.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(log_spectrogram(x, 256, 64, eps=WAVEFORM_EPS).sum(), x)
    assert torch.isfinite(grad).all() and grad[0].abs().sum() > 0
    with pytest.raises(ValueError, match="eps must be non-negative"):
        log_spectrogram(wave, 256, 64, eps=-1.0)


def test_the_waveform_loss_is_the_objective_of_the_samples_spectrogram(tiny_config) -> None:
    cfg = tiny_config
    net = RandomConvBank(cfg.bins, cfg.features.filters, cfg.features.kernel_widths, seed=cfg.seed)
    style = log_spectrogram(clicks(1.0), cfg.front.n_fft, cfg.front.hop)
    content = tone(1.0)
    with torch.no_grad():
        objective = StyleContentObjective(
            net(log_spectrogram(content, cfg.front.n_fft, cfg.front.hop)), style_grams(net, [style], None),
            content_weight=1.0, reduction="sum", gram_normalize="positions")
        at_content = waveform_loss(net, objective, cfg.spectral)(content)
    assert float(at_content.terms["content"]) < 1e-6 < float(at_content.terms["style"])


def test_the_loss_falls_in_the_waveform_stage(content_clip, style_clip, waveform_config) -> None:
    cfg = waveform_config.replace(waveform_iterations=10)
    result = style_transfer(content_clip, [style_clip], cfg, device="cpu")
    stages = result.stages
    assert list(stages) == ["spectrogram", "waveform"]
    assert stages["spectrogram"]["iterations"] == 15 and stages["waveform"]["iterations"] == 10
    wave_history = [h["total"] for h in result.history[0][-10:]]
    assert stages["waveform"]["start_loss"] == pytest.approx(wave_history[0])
    assert stages["waveform"]["loss"] < 0.8 * stages["waveform"]["start_loss"]
    assert wave_history[-1] < wave_history[0]
    assert result.loss == stages["waveform"]["loss"]  # the returned result's: the samples'
    assert result.iterations == 25 and len(result.history[0]) == 25
    assert 0 < result.spectral_convergence < 1  # of the Griffin-Lim start
    assert result.waveform.shape == content_clip.samples.shape
    torch.testing.assert_close(rms(result.waveform), rms(content_clip.samples), rtol=1e-3, atol=0)
    m = result.metrics()
    assert m["domain"] == "waveform" and m["budget"]["waveform"] == 10
    assert m["settings"]["domain"] == "waveform" and m["stages"]["waveform"]["iterations"] == 10
    assert set(m["seconds"]) == {"features", "optimisation", "reconstruction", "waveform"}
    assert result.spectrogram.shape == (1, 129, 126)  # the optimised samples' own


def _style_loss(wave: torch.Tensor, style: torch.Tensor, cfg: AudioStyleConfig) -> float:
    """The style term of the tool's own objective (its network, its normalisation) on the log
    spectrogram of ``wave`` ``(1, N)``, the style waveform ``(1, N_s)`` as target."""
    net = RandomConvBank(cfg.bins, cfg.features.filters, cfg.features.kernel_widths, seed=cfg.seed)
    objective = StyleContentObjective(
        {}, style_grams(net, [log_spectrogram(style, cfg.front.n_fft, cfg.front.hop)], None),
        reduction="sum", gram_normalize="positions")
    with torch.no_grad():
        return float(objective(net(log_spectrogram(wave, cfg.front.n_fft, cfg.front.hop))).total)


@pytest.mark.parametrize("mode", ["transfer", "texture"])
def test_the_written_waveform_matches_the_style_better_than_griffin_lim(
        content_clip, style_clip, tiny_config, mode) -> None:
    """The spectrogram pipeline's Gram match is partly lost in Griffin-Lim; the waveform stage
    matches the Grams of what is written. Measured on the returned waveforms (level-matched, at
    the working rate): transfer 5.6e3 -> 2.8e3, texture 308 -> 136 (style term)."""
    cfg = tiny_config.replace(filters=64, iterations=20)

    def run(config: AudioStyleConfig) -> torch.Tensor:
        if mode == "transfer":
            return style_transfer(content_clip, [style_clip], config, device="cpu").waveform
        return texture_synthesis([style_clip], 0.75, config, device="cpu").waveform

    spectrogram = _style_loss(run(cfg), style_clip.samples, cfg)
    waveform = _style_loss(run(cfg.replace(domain="waveform")), style_clip.samples,
                           cfg)
    assert waveform < 0.7 * spectrogram, (waveform, spectrogram)


def test_the_soft_limit_passes_quiet_samples_and_stays_under_full_scale() -> None:
    x = torch.linspace(-40.0, 40.0, 80001)
    y = soft_limit(x)
    quiet = x.abs() <= LIMIT_KNEE
    assert torch.equal(y[quiet], x[quiet])
    assert float(y.abs().max()) < PEAK_LIMIT and bool((y.diff() >= 0).all())  # monotone
    slope = y.diff() / x.diff()
    assert float(slope.max()) <= 1.0 + 1e-4 and float((slope[1:] - slope[:-1]).abs().max()) < 0.01
    loud = torch.tensor([0.0, 0.5, -0.95, 0.99, -0.998])
    torch.testing.assert_close(soft_limit(soft_limit_start(loud)), loud, rtol=0, atol=1e-5)
    too_loud = torch.tensor([0.2, -3.0, 1.5])  # scaled under full scale, then inverted
    back = soft_limit(soft_limit_start(too_loud))
    assert float(back.abs().max()) < PEAK_LIMIT
    torch.testing.assert_close(back / back[1], too_loud / too_loud[1], rtol=2e-3, atol=0)


def test_a_loud_start_is_optimised_under_full_scale_and_heard_at_its_own_level(
        style_clip, tiny_config) -> None:
    """A waveform stage that starts above full scale (a loud Griffin-Lim result) optimises
    samples that stay under it, so writing them scales nothing (before 08ba1e2 the written
    file was scaled down after the optimisation). Its loss hears those samples at the start's
    level (``start_gain``): its first evaluation is the start's own loss, not that of the
    start scaled down (on a phone-ring style, 2.7x further from the style's Grams), and the
    written samples, heard at that level, have the loss the optimisation reported."""
    from audiostyle.parallel import Workers
    from audiostyle.pipeline import new_run
    from audiostyle.stages import ChannelJob, Noise, refine_whole

    cfg = tiny_config.replace(domain="waveform", waveform_iterations=8)
    start = 3.0 * torch.randn(1, 6000, generator=torch.Generator().manual_seed(1))
    start = start.clamp(-0.85, 0.85)  # under the limiter's knee, but one sample is loud:
    start[0, 3000] = 4.0  # the start is 4x over full scale at one sample only
    run = new_run(cfg, [style_clip.samples], [1.0], cfg.spectral.frames(6000), 6000,
                  torch.device("cpu"), quiet=True, label="loud", workers=Workers())
    job = ChannelJob(0, "loud", None, Noise(cfg.seed, 1))
    net, objective = run.nets["waveform"], run.objective("waveform", job, None)
    gain = start_gain(start)
    assert gain == pytest.approx(4.0 / START_CEILING)

    def heard(samples: Tensor) -> float:
        with torch.no_grad():
            spec = log_spectrogram(samples, cfg.front.n_fft, cfg.front.hop, eps=WAVEFORM_EPS)
            return float(objective(net(spec)).total)

    own = heard(start)
    scaled_down = heard(start / gain)
    result = refine_whole(run, job, start)
    assert result.history[0]["total"] == pytest.approx(own, rel=1e-3)
    assert abs(scaled_down - own) > 0.1 * own  # what the old start heard instead
    samples = result.variable
    assert float(samples.abs().max()) < PEAK_LIMIT
    written = match_level(samples.clone(), rms(samples))  # the writer's level step
    torch.testing.assert_close(written, samples, rtol=0, atol=0)
    assert heard(gain * written) == pytest.approx(result.loss, rel=1e-4)
    assert result.loss < result.history[0]["total"]


def test_a_start_under_full_scale_is_heard_as_it_is() -> None:
    quiet = torch.tensor([[0.0, 0.5, -0.95, 0.998]])
    assert start_gain(quiet) == 1.0 and start_gain(torch.zeros(1, 0)) == 1.0
    assert start_gain(torch.tensor([0.1, -2.0])) == pytest.approx(2.0 / START_CEILING)


@pytest.mark.parametrize("start", ["content", "noise"])
def test_one_stage_starts(content_clip, style_clip, waveform_config, start) -> None:
    """From the content's samples or noise there is no spectrogram stage and no Griffin-Lim;
    ``waveform_iterations`` (default ``iterations``) counts the one waveform stage."""
    cfg = waveform_config.replace(waveform_init=start, iterations=6)
    result = style_transfer(content_clip, [style_clip], cfg, device="cpu")
    assert list(result.stages) == ["waveform"] and result.iterations == 6
    assert result.spectral_convergence is None and result.metrics()["budget"] == {"spectrogram": 0, "waveform": 6}
    assert "reconstruction" in result.seconds and result.seconds["reconstruction"] == 0.0
    first = result.history[0][0]
    if start == "content":
        assert first["content"] < 1e-6 * first["style"]  # it starts at the content
    assert result.stages["waveform"]["loss"] < result.stages["waveform"]["start_loss"]
    texture = texture_synthesis([style_clip], 0.5, cfg.replace(waveform_init="noise",
                                                                       waveform_iterations=4),
                                device="cpu")
    assert texture.iterations == 4 and texture.waveform.shape == (1, 4000)


def test_shaped_noise_has_the_styles_bands_and_level_and_no_more() -> None:
    """The ``"shaped"`` start: noise with the blended styles' long-term spectrum, at their
    level, different per stream; white noise of the same level puts most of its energy
    where a two-tone style has none."""
    spectral = Spectral(n_fft=512, hop=128)
    low, high = tone(2.0, RATE, freqs=(400.0,)), tone(1.0, RATE, freqs=(2500.0,))
    spectrum = style_spectrum([low, high], [3.0, 1.0], spectral)
    assert spectrum.shape == (257,)
    noise = shaped_noise(spectrum, 2 * RATE, spectral, torch.Generator().manual_seed(0))
    assert noise.shape == (1, 2 * RATE)
    shares = band_shares(noise, RATE)
    want = 0.75 * band_shares(low, RATE) + 0.25 * band_shares(high, RATE)
    assert float((shares - want).abs().sum()) < 0.1
    assert out_of_band_share(noise, RATE, [low, high], [RATE, RATE], [3.0, 1.0]) < 0.02
    level = (0.75 * low.square().mean() + 0.25 * high.square().mean()).sqrt()
    assert float(rms(noise)) == pytest.approx(float(level), rel=0.15)
    other = shaped_noise(spectrum, 2 * RATE, spectral, torch.Generator().manual_seed(1))
    assert not torch.allclose(noise, other, atol=1e-3)
    white = torch.randn(1, 2 * RATE, generator=torch.Generator().manual_seed(0)) * level
    assert out_of_band_share(white, RATE, [low, high], [RATE, RATE], [3.0, 1.0]) > 0.5


def test_the_style_spectrum_of_a_file_read_in_blocks_is_the_whole_files(tmp_path) -> None:
    """A style read on demand (a file at another rate), a block of frames at a time, gives the
    spectrum of the style loaded whole."""
    import soundfile as sf
    from audiostyle.stream import ResampledFile, open_audio

    spectral = Spectral(n_fft=512, hop=128)
    x = tone(1.3, 16000, freqs=(300.0, 2100.0)) + 0.01 * torch.randn(1, 20800,
                                                                    generator=torch.Generator().manual_seed(0))
    sf.write(str(tmp_path / "s.wav"), x[0].numpy(), 16000, subtype="FLOAT")
    view = ResampledFile(open_audio(tmp_path / "s.wav"), RATE)
    whole = style_spectrum([view.tensor()], [1.0], spectral)
    for block in (5, 30, 81):  # of 82 frames
        blocked = style_spectrum([view], [1.0], spectral, block=block)
        assert blocked.shape == (257,)
        assert torch.allclose(blocked, whole, rtol=1e-4, atol=1e-6 * float(whole.max()))


def test_a_shaped_texture_starts_in_the_styles_bands(style_clip, waveform_config) -> None:
    """With no iterations the texture is its start: shaped noise keeps to a tonal style's
    bands, where the reference's white-noise start does not."""
    style = AudioClip(tone(1.0, RATE, freqs=(500.0, 1200.0)), RATE, "tones.wav")
    outside = {}
    for start in ("shaped", "noise"):
        cfg = waveform_config.replace(waveform_init=start, iterations=0, level="content")
        result = texture_synthesis([style], 1.0, cfg, device="cpu")
        outside[start] = out_of_band_share(result.waveform, RATE, [style.samples], [RATE])
    assert outside["shaped"] < 0.05 < 0.5 < outside["noise"], outside


def test_a_shaped_spectrogram_start_is_shaped_noise_in_every_texture_window(tiny_config) -> None:
    """``init="shaped"``: the spectrogram stage starts from the log spectrogram of shaped noise,
    in each window of a long texture too (not added to frames drawn from earlier windows), and
    with no iterations Griffin-Lim of it keeps to the style's bands in every window."""
    style = AudioClip(tone(1.0, RATE, freqs=(500.0, 1200.0)), RATE, "tones.wav")
    cfg = tiny_config.replace(init="shaped", iterations=0, window_frames=128, overlap_frames=16)
    result = texture_synthesis([style], 3.0, cfg, device="cpu")  # 375 frames: 3 windows
    parts = result.waveform[..., :3 * RATE].split(RATE, dim=-1)
    levels = [float(rms(p)) for p in parts]
    assert max(levels) < 1.5 * min(levels), levels  # later windows as loud as the first
    for part in parts:
        assert out_of_band_share(part, RATE, [style.samples], [RATE]) < 0.05
    white = texture_synthesis([style], 3.0, cfg.replace(init="noise"), device="cpu")
    assert out_of_band_share(white.waveform, RATE, [style.samples], [RATE]) > 0.3


def test_stereo_is_per_channel_and_a_seed_gives_one_output(tiny_config) -> None:
    content = AudioClip(tone(0.6, channels=2) * 0.3, RATE, "stereo.wav")  # below the peak limit
    style = AudioClip(clicks(1.0), RATE, "style.wav")
    cfg = tiny_config.replace(domain="waveform", iterations=3, waveform_iterations=4)
    a = style_transfer(content, [style], cfg, stereo=True, device="cpu")
    assert a.waveform.shape == content.samples.shape and len(a.history) == 2
    assert a.stages["waveform"]["iterations"] == 8 and a.stages["spectrogram"]["iterations"] == 6
    assert [len(h) for h in a.history] == [7, 7]
    torch.testing.assert_close(rms(a.waveform), rms(content.samples), rtol=1e-3, atol=0)
    b = style_transfer(content, [style], cfg, stereo=True, device="cpu")
    assert torch.equal(a.waveform, b.waveform)
    texture = texture_synthesis([content], 0.4, cfg, stereo=True, device="cpu")
    assert texture.waveform.shape == (2, 3200) and torch.isfinite(texture.waveform).all()


def test_ctrl_c_in_the_waveform_stage_keeps_the_best_samples(content_clip, style_clip,
                                                             waveform_config, monkeypatch,
                                                             ctrl_c_at) -> None:
    from audiostyle import stages

    real = stages.optimize

    def stop_in_waveform_stage(x0, loss_fn, optim, **kwargs):
        if x0.dim() == 3:  # the spectrogram stage runs to its end
            return real(x0, loss_fn, optim, **kwargs)
        return real(x0, ctrl_c_at(loss_fn, 4), optim, **kwargs)

    monkeypatch.setattr(stages, "optimize", stop_in_waveform_stage)
    result = style_transfer(content_clip, [style_clip], waveform_config, device="cpu")
    assert result.interrupted and result.stages["waveform"]["iterations"] < 15
    assert result.stages["waveform"]["loss"] <= result.stages["waveform"]["start_loss"]
    assert torch.isfinite(result.waveform).all() and result.waveform.abs().max() > 0


def test_ctrl_c_in_the_spectrogram_stage_skips_the_waveform_stage(content_clip, style_clip,
                                                                 waveform_config, monkeypatch,
                                                                 ctrl_c_at) -> None:
    """Ctrl-C means "stop and give me what you have": the best spectrogram's Griffin-Lim
    reconstruction, no waveform stage after it."""
    from audiostyle import stages

    real = stages.optimize
    seen = []

    def stop_early(x0, loss_fn, optim, **kwargs):
        seen.append(x0.dim())
        return real(x0, ctrl_c_at(loss_fn, 4), optim, **kwargs)

    monkeypatch.setattr(stages, "optimize", stop_early)
    result = style_transfer(content_clip, [style_clip], waveform_config, device="cpu")
    assert seen == [3] and result.interrupted and list(result.stages) == ["spectrogram"]
    assert torch.isfinite(result.waveform).all() and result.waveform.abs().max() > 0


def test_bad_settings_are_value_errors_naming_the_parameter(style_clip, tiny_config) -> None:
    with pytest.raises(ValueError, match="^domain must be 'spectrogram' or 'waveform'"):
        AudioStyleConfig.build(domain="samples")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="^waveform_iterations needs domain 'waveform'"):
        AudioStyleConfig.build(waveform_iterations=5)
    with pytest.raises(ValueError, match="^waveform_init needs domain 'waveform'"):
        AudioStyleConfig.build(waveform_init="noise")
    with pytest.raises(ValueError, match="^waveform_init must be"):
        AudioStyleConfig.build(domain="waveform", waveform_init="silence")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="^waveform_iterations must be a non-negative integer"):
        AudioStyleConfig.build(domain="waveform", waveform_iterations=-1)
    cfg = tiny_config.replace(domain="waveform", waveform_init="content")
    with pytest.raises(ValueError, match="^waveform_init 'content' needs a content clip"):
        texture_synthesis([style_clip], 0.5, cfg, device="cpu")
    assert AudioStyleConfig().budget("waveform") == 0
    assert AudioStyleConfig.build(domain="waveform", iterations=7).budget("waveform") == 7


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.cuda
@pytest.mark.parametrize("start", ["griffin-lim", "content"])
def test_cuda_matches_cpu(content_clip, style_clip, tiny_config, start) -> None:
    cfg = tiny_config.replace(iterations=3, waveform_iterations=3, griffin_lim_iters=0,
                              domain="waveform", waveform_init=start)
    cpu = style_transfer(content_clip, [style_clip], cfg, device="cpu")
    gpu = style_transfer(content_clip, [style_clip], cfg, device="cuda")
    assert gpu.waveform.device.type == "cpu" and gpu.stages["waveform"]["iterations"] == 3
    assert abs(cpu.loss - gpu.loss) <= 1e-2 * abs(cpu.loss) + 1e-4


def _record_waveform_stage(monkeypatch) -> list[tuple[int, int]]:
    """Patch the waveform stage to record (its network's filters, its Gram target's size)."""
    from audiostyle import stages

    seen: list[tuple[int, int]] = []
    real = stages.optimise_waveform

    def record(run, job, objective, *args, **kwargs):
        seen.append((run.nets["waveform"].filters, int(objective.style_target_0.shape[-1])))
        return real(run, job, objective, *args, **kwargs)

    monkeypatch.setattr(stages, "optimise_waveform", record)
    return seen


@pytest.mark.parametrize("stereo", [False, True], ids=["mono", "stereo"])
def test_the_waveform_stage_has_its_own_network_with_waveform_filters(
        monkeypatch, content_clip, style_clip, waveform_config, stereo) -> None:
    seen = _record_waveform_stage(monkeypatch)
    cfg = waveform_config.replace(waveform_filters=48, waveform_iterations=8)
    content = (AudioClip(torch.cat([content_clip.samples, 0.5 * content_clip.samples]), RATE,
                         "stereo.wav") if stereo else content_clip)
    result = style_transfer(content, [style_clip], cfg, stereo=stereo, device="cpu")
    assert seen == [(48, 48)] * (2 if stereo else 1)  # its own targets, per channel
    stage = result.stages["waveform"]
    assert stage["loss"] < 0.8 * stage["start_loss"]
    assert result.stages["spectrogram"]["iterations"] == 15 * len(seen)
    assert result.metrics()["settings"]["waveform_filters"] == 48
    # as many filters as the spectrogram stage's: one network, the same result as without
    same = style_transfer(content, [style_clip], cfg.replace(waveform_filters=32),
                          stereo=stereo, device="cpu")
    plain = style_transfer(content, [style_clip], cfg.replace(waveform_filters=None),
                           stereo=stereo, device="cpu")
    torch.testing.assert_close(same.waveform, plain.waveform, rtol=0, atol=0)
    assert not torch.equal(same.waveform, result.waveform)


def test_waveform_filters_size_the_only_network_without_a_spectrogram_stage(
        monkeypatch, content_clip, style_clip, waveform_config) -> None:
    seen = _record_waveform_stage(monkeypatch)
    cfg = waveform_config.replace(waveform_init="content", waveform_filters=40, iterations=5)
    result = style_transfer(content_clip, [style_clip], cfg, device="cpu")
    assert seen == [(40, 40)] and list(result.stages) == ["waveform"]


def test_waveform_filters_are_checked_and_belong_to_the_waveform_domain() -> None:
    with pytest.raises(ValueError, match="^waveform_filters must be a positive integer"):
        AudioStyleConfig.build(domain="waveform", waveform_filters=0)
    with pytest.raises(ValueError, match="^waveform_filters needs domain 'waveform'"):
        AudioStyleConfig.build(waveform_filters=64)
    assert AudioStyleConfig.build(filters=64).filters_of("waveform") == 64
    assert AudioStyleConfig.build(domain="waveform", waveform_filters=96).filters_of("waveform") == 96
