"""The autocorrelation term (Antognini et al. 2019): its maths against a direct sum, chunked
style targets, gradients, zero at the target, shift behaviour, and a texture that keeps a
click track's tempo."""

from __future__ import annotations

import json

import pytest
import torch

from helpers.audio import write_wav
from audiostyle import AudioClip, AudioStyleConfig, RandomConvBank, texture_synthesis
from audiostyle.cli import main
from audiostyle.rhythm import (AutocorrObjective, autocorrelation, autocorrelation_loss,
                               chunked_autocorrelation, lag_sums, style_autocorrelations)
from audiostyle.spectral import magnitude
from shared import gram_matrix

RATE = 8000


def _direct(f: torch.Tensor, lags: int) -> torch.Tensor:
    """The centred, overlap-normalised autocorrelation as a plain sum per lag."""
    t = f.shape[-1]
    f = f - f.mean(-1, keepdim=True)
    return torch.stack([(f[..., :t - k] * f[..., k:]).sum(-1) / (t - k)
                        for k in range(1, lags + 1)], dim=-1)


def test_autocorrelation_equals_the_direct_sum() -> None:
    f = torch.rand(2, 3, 50, dtype=torch.float64)
    torch.testing.assert_close(autocorrelation(f, 20), _direct(f, 20))
    torch.testing.assert_close(autocorrelation(f, 49), _direct(f, 49))


def test_lag_sums_leave_out_products_past_the_span() -> None:
    f = torch.rand(1, 2, 30, dtype=torch.float64)
    head, span = f[..., :10], f[..., :14]
    want = torch.stack([(f[..., :10] * torch.nn.functional.pad(f[..., :14], (0, 10))[..., k:k + 10])
                        .sum(-1) for k in range(1, 7)], -1)
    torch.testing.assert_close(lag_sums(head, span, 6), want)


def test_bad_lags_raise_value_errors_naming_them() -> None:
    with pytest.raises(ValueError, match="max_lag"):
        autocorrelation(torch.rand(1, 2, 10), 10)
    with pytest.raises(ValueError, match="autocorr_weight"):
        AudioStyleConfig.build(autocorr_weight=-1.0)
    with pytest.raises(ValueError, match="autocorr_seconds"):
        AudioStyleConfig.build(autocorr_seconds=0.0)
    assert AudioStyleConfig.build(autocorr_seconds=2.0).autocorr_lags == 86  # 2 s at 22050 / 512


def test_chunked_targets_equal_the_whole_for_a_bank() -> None:
    net = RandomConvBank(17, 8, (3, 7), seed=0).double()
    spec = torch.rand(1, 17, 90, dtype=torch.float64)
    feats = net(spec)
    whole = {k: autocorrelation(v, 12) for k, v in feats.items()}
    for chunk in (1, 5, 16, 4096):
        got = chunked_autocorrelation(net, net.kernel_widths, spec, 12, chunk_frames=chunk)
        for k in whole:
            torch.testing.assert_close(got[k], whole[k])


def test_style_targets_blend_and_cut_the_lag_to_the_shortest_style() -> None:
    net = RandomConvBank(17, 8, (5,), seed=0).double()
    a, b = torch.rand(1, 17, 60, dtype=torch.float64), torch.rand(1, 17, 30, dtype=torch.float64)
    got = style_autocorrelations(net, (5,), [a, b], 40, [3.0, 1.0])["conv5"]  # (1, 8, 25)
    assert got.shape == (1, 8, 25)
    want = 0.75 * autocorrelation(net(a)["conv5"], 25) + 0.25 * autocorrelation(net(b)["conv5"], 25)
    torch.testing.assert_close(got, want)


def test_the_loss_is_zero_at_the_target_and_its_gradient_reaches_the_input() -> None:
    f = torch.rand(1, 4, 40, dtype=torch.float64)
    target = autocorrelation(f, 10)
    assert float(autocorrelation_loss(f, target)) == 0.0
    x = torch.rand(1, 4, 40, dtype=torch.float64, requires_grad=True)
    loss = autocorrelation_loss(x, target)
    assert float(loss.detach()) > 0
    loss.backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and float(x.grad.abs().sum()) > 0
    assert torch.autograd.gradcheck(lambda y: autocorrelation_loss(y, target[:, :2]),
                                    (torch.rand(1, 2, 15, dtype=torch.float64,
                                                requires_grad=True),), eps=1e-6)


def test_a_shift_keeps_the_autocorrelation_and_a_tempo_change_does_not() -> None:
    t = torch.arange(200, dtype=torch.float64)
    pulses = lambda period, delay: (((t - delay) % period) < 2).double()[None, None]  # noqa: E731
    base = autocorrelation(pulses(20, 0), 60)
    assert int(base[0, 0, :30].argmax()) + 1 == 20  # peaks at the period
    shifted = autocorrelation_loss(pulses(20, 7), base)
    faster = autocorrelation_loss(pulses(17, 0), base)
    assert float(shifted) < 0.02 * float(faster)
    # a lag longer than the (shorter) result's frames is cut, not an error
    assert float(autocorrelation_loss(pulses(20, 3)[..., :40], base)) >= 0


def test_the_objective_reports_and_adds_the_term() -> None:
    f = {"conv5": torch.rand(1, 4, 30, dtype=torch.float64)}
    grams = {"conv5": gram_matrix(f["conv5"])}
    lagged = {"conv5": autocorrelation(f["conv5"], 8) + 0.1}
    obj = AutocorrObjective({}, grams, autocorr_targets=lagged, autocorr_weight=2.0)
    terms = obj(f)
    assert set(terms.terms) == {"style", "autocorr"}
    torch.testing.assert_close(terms.terms["autocorr"],
                               torch.tensor(2.0 * 0.01 * 4 * 8, dtype=torch.float64))
    torch.testing.assert_close(terms.total, terms.terms["style"] + terms.terms["autocorr"])
    with pytest.raises(ValueError, match="autocorr_weight"):
        AutocorrObjective({}, grams, autocorr_targets=lagged, autocorr_weight=0.0)


def click_track(seconds: float, period: float = 0.5, seed: int = 1) -> torch.Tensor:
    """Noise bursts every ``period`` seconds over quiet noise: ``(1, N)`` at 8 kHz."""
    g = torch.Generator().manual_seed(seed)
    n = int(seconds * RATE)
    env = torch.exp(-(torch.arange(n) % int(period * RATE)).float() / (RATE / 100))
    return (torch.randn(n, generator=g) * 0.02 + torch.randn(n, generator=g) * 0.5 * env)[None]


def onset_period(wave: torch.Tensor, lo: float = 0.3, hi: float = 0.8) -> float:
    """Lag in seconds, within ``[lo, hi)``, of the highest autocorrelation of the onset
    envelope (positive spectral flux) of ``wave`` ``(1, N)`` at 8 kHz."""
    mag = magnitude(wave.double(), 256, 64)[0]  # (F, T)
    flux = torch.relu(torch.log1p(10 * mag).diff(dim=-1)).sum(0)  # (T - 1,)
    flux = flux - flux.mean()
    ac = _direct(flux[None, None], flux.shape[0] // 2)[0, 0]  # lags 1 ..
    a, b = int(lo * RATE / 64), int(hi * RATE / 64)
    return (a + int(ac[a - 1:b - 1].argmax())) * 64 / RATE


def test_a_texture_keeps_a_click_tracks_tempo_with_the_term() -> None:
    style = AudioClip(click_track(4.0), RATE, "clicks.wav")
    period = onset_period(style.samples)
    assert abs(period - 0.5) < 0.01
    cfg = AudioStyleConfig.build(sample_rate=RATE, n_fft=256, hop=64, filters=256, kernel_widths=(5,),
                           iterations=40, griffin_lim_iters=30, autocorr_seconds=1.0)
    with_term, without = [], []
    for seed in range(3):
        for weight, out in ((10.0, with_term), (0.0, without)):
            r = texture_synthesis([style], 3.0, cfg.replace(seed=seed, autocorr_weight=weight),
                                  device="cpu")
            out.append(onset_period(r.waveform))
    assert all(abs(p - period) <= 0.05 * period for p in with_term), (with_term, period)
    # the Grams alone (a 5-frame receptive field) do not hold the tempo
    assert any(abs(p - period) > 0.05 * period for p in without), (without, period)


def test_the_cli_takes_the_term_and_names_its_flags(tmp_path, capsys) -> None:
    style = write_wav(tmp_path / "clicks.wav", click_track(2.0))
    out, metrics = tmp_path / "out.wav", tmp_path / "m.json"
    args = ["texture", style, "-o", str(out), "--seconds", "1", "--sample-rate", str(RATE),
            "--n-fft", "256", "--hop", "64", "--filters", "16", "--kernel-width", "5",
            "--iterations", "3", "--griffin-lim-iters", "2", "--quiet", "--device", "cpu"]
    assert main(args + ["--autocorr-weight", "5", "--autocorr-seconds", "0.5",
                        "--metrics", str(metrics)]) == 0
    m = json.loads(metrics.read_text())
    assert m["settings"]["autocorr_weight"] == 5.0 and "autocorr" in m["terms"]
    assert main(args + ["--autocorr-seconds", "-1"]) == 2
    assert "--autocorr-seconds must be positive" in capsys.readouterr().err
