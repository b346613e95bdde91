"""Spectrograms, Griffin-Lim and spectral convergence."""

from __future__ import annotations

import torch

from audiostyle.spectral import (griffin_lim, log_spectrogram, log_to_magnitude, magnitude,
                                 num_frames, phase, spectral_convergence)

from helpers.audio import tone


def test_log_spectrogram_shape_and_inverse() -> None:
    wave = tone(0.5)  # (1, 4000)
    spec = log_spectrogram(wave, 256, 64)
    assert spec.shape == (1, 129, num_frames(4000, 64))
    torch.testing.assert_close(log_to_magnitude(spec), magnitude(wave, 256, 64), atol=1e-5,
                               rtol=1e-4)
    assert (log_to_magnitude(torch.full((2, 2), -1.0)) == 0).all()  # negative S: clamped


def test_more_griffin_lim_iterations_converge_better() -> None:
    wave = tone(0.5, freqs=(220.0, 440.0, 1250.0))[0]
    mag = magnitude(wave, 256, 64)
    scores = []
    for iters in (0, 8, 60):
        g = torch.Generator().manual_seed(0)
        out = griffin_lim(mag, 256, 64, iters, momentum=0.99, length=wave.shape[-1], generator=g)
        assert out.shape == wave.shape
        scores.append(spectral_convergence(mag, out, 256, 64))
    assert scores[0] > scores[1] > scores[2]
    assert scores[2] < 0.25


def test_momentum_helps_at_equal_iterations() -> None:
    wave = tone(0.5, freqs=(220.0, 440.0, 1250.0))[0]
    mag = magnitude(wave, 256, 64)
    sc = {}
    for m in (0.0, 0.99):
        out = griffin_lim(mag, 256, 64, 30, momentum=m, generator=torch.Generator().manual_seed(0))
        sc[m] = spectral_convergence(mag, out, 256, 64)
    assert sc[0.99] < sc[0.0]


def test_spectral_convergence_of_the_signal_itself_is_zero() -> None:
    wave = tone(0.25)[0]
    assert spectral_convergence(magnitude(wave, 256, 64), wave, 256, 64) < 1e-5
    silence = torch.zeros(2000)
    assert spectral_convergence(magnitude(silence, 256, 64), silence, 256, 64) == 0.0


def test_griffin_lim_from_the_true_phase_is_exact() -> None:
    wave = tone(0.5, freqs=(220.0, 440.0, 1250.0))[0]
    mag = magnitude(wave, 256, 64)
    out = griffin_lim(mag, 256, 64, 0, init_phase=phase(wave, 256, 64), length=wave.shape[-1])
    torch.testing.assert_close(out, wave, atol=1e-4, rtol=0)
    assert spectral_convergence(mag, out, 256, 64) < 1e-4
