"""Seeded results pinned bit for bit: a refactor of the pipeline must not change them.

Each case runs the public API on tiny signals (mono and stereo, transfer and texture, both
domains, whole and in windows) and compares the result's samples, spectrogram, losses and
counts with the digests in ``pins.json``, taken before the audio package was redesigned
(issue 21). Digests are kept per platform: the torch build and the CPU's vector extensions
(two machines that torch calls alike, "AVX512", round differently when one has AMX). On a
platform not recorded the first losses must agree closely (the setup: spectrograms, networks,
targets) and the final ones loosely: L-BFGS amplifies rounding, by up to 3 % of the loss in
these cases between two recorded platforms.

Record this platform's digests (adds or replaces its entry; after a deliberate change of
results, said in the commit, delete the other platforms' entries first):
``PYTHONPATH=.:tests python -P tests/audiostyle/test_pinned.py --write`` (the checkout first
on the path and ``-P``: the folder ``tests/audiostyle`` would hide the package).
"""

from __future__ import annotations

import hashlib
import json
import platform as pyplatform
import sys
from pathlib import Path
from typing import Any, Callable

import pytest
import torch

from helpers.audio import RATE, clicks, stereo_tones, tone

from audiostyle import AudioClip, AudioStyleConfig, style_transfer, texture_synthesis

PINS = Path(__file__).with_name("pins.json")
TINY = dict(sample_rate=RATE, n_fft=256, hop=64, filters=32, kernel_widths=(5,), iterations=12,
            griffin_lim_iters=10)
LONG = dict(TINY, filters=16, iterations=4, griffin_lim_iters=5, window_frames=96,
            overlap_frames=16)  # 3 s: 376 frames, 5 windows

Case = tuple[str, dict[str, Any], dict[str, Any]]  # mode, settings, run options
CASES: dict[str, Case] = {
    "transfer": ("transfer", TINY, {}),
    "transfer-blend-content-start": ("transfer", dict(
        TINY, kernel_widths=(3, 7), filters=24, init="content", phase_init="content",
        iterations=8), {"styles": 2}),
    "transfer-level-content": ("transfer", dict(TINY, level="content", iterations=6), {}),
    "texture-rhythm-pghi": ("texture", dict(TINY, autocorr_weight=30.0, autocorr_seconds=0.3,
                                            phase_init="pghi", iterations=10), {}),
    "stereo-refine-own-network": ("transfer", dict(
        TINY, domain="waveform", waveform_iterations=6, waveform_filters=48, content_weight=0.045,
        iterations=6), {"stereo": True}),
    "waveform-from-content": ("transfer", dict(TINY, domain="waveform", waveform_init="content",
                                               iterations=8), {}),
    "texture-waveform-noise": ("texture", dict(TINY, domain="waveform", waveform_init="noise",
                                               iterations=8), {}),
    "windowed-transfer": ("transfer", LONG, {"seconds": 3.0}),
    "windowed-texture-pghi": ("texture", dict(LONG, phase_init="pghi"), {"seconds": 3.0}),
    "windowed-stereo-refine": ("transfer", dict(
        LONG, domain="waveform", iterations=3, waveform_iterations=3, waveform_filters=24,
        phase_init="content"), {"seconds": 3.0, "stereo": True}),
    "windowed-texture-waveform-noise": ("texture", dict(
        LONG, domain="waveform", waveform_init="noise", iterations=3), {"seconds": 3.0}),
}


def make_config(settings: dict[str, Any]) -> AudioStyleConfig:
    """The case's settings as a config."""
    return AudioStyleConfig.build(**settings)


def run_case(name: str) -> Any:
    mode, settings, options = CASES[name]
    seconds = options.get("seconds", 1.0)
    stereo = options.get("stereo", False)
    content = AudioClip(tone(seconds, channels=2 if stereo else 1), RATE, "content.wav")
    styles = [AudioClip(stereo_tones(1.5) if stereo else clicks(1.5), RATE, "style.wav")]
    weights = None
    if options.get("styles", 1) == 2:
        styles.append(AudioClip(tone(1.2, freqs=(500.0,)), RATE, "style2.wav"))
        weights = [2.0, 1.0]
    config = make_config(settings)
    if mode == "transfer":
        return style_transfer(content, styles, config, style_weights=weights, stereo=stereo,
                              device="cpu")
    return texture_synthesis(styles, seconds * 0.8, config, style_weights=weights,
                             stereo=stereo, device="cpu")


def _digest(t: torch.Tensor) -> str:
    return hashlib.sha256(t.detach().contiguous().cpu().numpy().tobytes()).hexdigest()[:20]


def summary(result: Any) -> dict[str, Any]:
    """What is pinned of a result."""
    return {
        "waveform": _digest(result.waveform), "shape": list(result.waveform.shape),
        "spectrogram": _digest(result.spectrogram),
        "waveform_norm": float(result.waveform.double().norm()),
        "loss": result.loss, "iterations": result.iterations,
        "evaluations": result.evaluations, "spectral_convergence": result.spectral_convergence,
        "history": [[h["total"] for h in ch] for ch in result.history],
    }


def platform() -> str:
    """The torch build, its CPU kernel set and the CPU's vector extensions that kernels use."""
    flags: set[str] = set()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("flags"):
                flags = {f for f in line.split(":", 1)[1].split()
                         if f.startswith(("avx", "amx", "fma"))}
                break
    return (f"torch {torch.__version__}, {torch.backends.cpu.get_cpu_capability()}, "
            f"{' '.join(sorted(flags)) or pyplatform.processor()}")


@pytest.fixture(scope="module")
def pins() -> dict[str, dict[str, Any]]:
    """Each recorded platform's digests, by case."""
    return json.loads(PINS.read_text())["platforms"]


def relative(a: float, b: float) -> float:
    return abs(a - b) / max(abs(b), 1e-9)


@pytest.mark.parametrize("name", list(CASES))
def test_seeded_results_are_unchanged(name: str, pins: dict[str, dict[str, Any]],
                                      one_thread: None) -> None:
    got = summary(run_case(name))
    if platform() in pins:
        want = pins[platform()][name]
        assert got == want, f"{name} changed: {got} != {want}"
        return
    for recorded, cases in pins.items():
        want = cases[name]
        where = f"{name} against {recorded}"
        assert got["shape"] == want["shape"] and got["iterations"] == want["iterations"], where
        for g, w in zip(got["history"], want["history"], strict=True):
            assert relative(g[0], w[0]) <= 1e-5, f"{where}: first loss {g[0]} != {w[0]}"
        assert relative(got["loss"], want["loss"]) <= 0.1, f"{where}: loss"
        assert relative(got["waveform_norm"], want["waveform_norm"]) <= 0.02, f"{where}: norm"


if __name__ == "__main__" and "--write" in sys.argv:
    torch.set_num_threads(1)
    known = json.loads(PINS.read_text())["platforms"] if PINS.exists() else {}
    known[platform()] = {n: summary(run_case(n)) for n in CASES}
    PINS.write_text(json.dumps({"threads": 1, "platforms": known}, indent=1) + "\n")
    print(f"wrote {PINS} ({len(known)} platforms)")
