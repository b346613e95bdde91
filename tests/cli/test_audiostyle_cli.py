"""``audiostyle`` end to end through ``main([...])``: outputs, metrics, plots, and every bad input
(one line on stderr, exit status 2, no output file)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audiostyle import cli

RATE = 8000
TINY = ["--sample-rate", "8000", "--n-fft", "256", "--hop", "64", "--filters", "16",
        "--kernel-width", "5", "--iterations", "4", "--griffin-lim-iters", "4", "--quiet",
        "--device", "cpu"]


def _write(path: Path, seconds: float = 0.6, rate: int = RATE, channels: int = 1,
           freq: float = 330.0, subtype: str = "PCM_16") -> str:
    t = np.arange(int(seconds * rate)) / rate
    x = 0.3 * np.sin(2 * math.pi * freq * t) * (1 + 0.5 * np.sin(2 * math.pi * 4 * t))
    data = np.stack([x * (1 - 0.3 * c) for c in range(channels)], axis=1)
    sf.write(str(path), data, rate, subtype=subtype)
    return str(path)


@pytest.fixture
def clips(tmp_path):
    content = _write(tmp_path / "content.wav", 0.8, rate=11025, channels=2)
    style = _write(tmp_path / "style.flac", 1.0, freq=880.0)
    return tmp_path, content, style


def _files(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


def _one_error_line(capsys, *needles: str) -> None:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("audiostyle: error:"), err
    for needle in needles:
        assert needle in err[0], err


def test_transfer_writes_audio_metrics_and_plot(clips) -> None:
    folder, content, style = clips
    out, metrics, plot = folder / "out.wav", folder / "m.json", folder / "p.png"
    assert cli.main(["transfer", content, style, "-o", str(out), "--metrics", str(metrics),
                     "--plot", str(plot), "--stereo", *TINY]) == 0
    data, rate = sf.read(str(out), always_2d=True)
    assert rate == 11025 and data.shape == (8820, 2)  # content's rate, length and channels
    assert np.abs(data).max() < 1.0
    m = json.loads(metrics.read_text())
    assert m["iterations"] == 8 and m["evaluations"] >= 8  # two channels x 4
    assert set(m["seconds"]) >= {"load", "optimisation", "reconstruction", "write"}
    assert m["settings"]["filters"] == 16 and 0 < m["spectral_convergence"]
    assert m["terms"]["style"] > 0 and m["terms"]["content"] > 0
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert _files(folder) == {"content.wav", "style.flac", "out.wav", "m.json", "p.png"}


def test_texture_and_plot_commands(clips) -> None:
    folder, content, style = clips
    out = folder / "tex.wav"
    assert cli.main(["texture", style, content, "--style-weights", "2,1", "-o", str(out),
                     "--seconds", "0.5", *TINY]) == 0
    data, rate = sf.read(str(out), always_2d=True)
    assert rate == RATE and data.shape == (4000, 1)
    assert cli.main(["plot", content, style, str(out), "-o", str(folder / "s.png")]) == 0
    assert (folder / "s.png").stat().st_size > 1000


def test_presets_and_options_reach_the_config(clips, monkeypatch) -> None:
    folder, content, style = clips
    seen = {}

    def fake(content_clip, styles, config, **kwargs):
        seen.update(config=config, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr("audiostyle.transfer.style_transfer", fake)
    code = cli.main(["transfer", content, style, "-o", str(folder / "o.wav"), "--preset", "fast",
                     "--kernel-widths", "3,7", "--momentum", "0.5", "--init", "content"])
    assert code == 130 and not (folder / "o.wav").exists()
    cfg = seen["config"]
    assert cfg.filters == 2048 and cfg.kernel_widths == (3, 7) and cfg.momentum == 0.5
    assert cfg.init == "content"


def test_interrupted_run_writes_nothing(clips, monkeypatch, capsys) -> None:
    folder, content, style = clips
    import shared.optim

    real = shared.optim.optimize

    def interrupted(*args, **kwargs):
        result = real(*args, **kwargs)
        result.interrupted = True
        return result

    monkeypatch.setattr("audiostyle.transfer.optimize", interrupted)
    code = cli.main(["transfer", content, style, "-o", str(folder / "o.wav"), "--metrics",
                     str(folder / "m.json"), *TINY])
    assert code == 130
    assert "interrupted; no output written" in capsys.readouterr().err
    assert _files(folder) == {"content.wav", "style.flac"}


def _bad_inputs(folder: Path, good: str) -> dict[str, tuple[list[str], str]]:
    (folder / "empty.wav").write_bytes(b"")
    (folder / "text.wav").write_text("not audio at all\n" * 30)
    sf.write(str(folder / "zero.wav"), np.zeros((0, 1)), RATE, subtype="PCM_16")
    _write(folder / "short.wav", 0.02)
    nan = np.full((2000, 1), 0.1)
    nan[5] = np.nan
    sf.write(str(folder / "nan.wav"), nan, RATE, subtype="FLOAT")
    inf = np.full((2000, 1), 0.1)
    inf[7] = np.inf
    sf.write(str(folder / "inf.wav"), inf, RATE, subtype="FLOAT")
    out = str(folder / "out.wav")
    return {
        "missing": (["transfer", str(folder / "missing.wav"), good, "-o", out], "missing.wav"),
        "empty": (["transfer", str(folder / "empty.wav"), good, "-o", out], "empty.wav"),
        "not audio": (["transfer", good, str(folder / "text.wav"), "-o", out], "text.wav"),
        "zero samples": (["texture", str(folder / "zero.wav"), "-o", out, "--seconds", "1"],
                         "zero.wav"),
        "too short": (["transfer", str(folder / "short.wav"), good, "-o", out], "short.wav"),
        "nan": (["transfer", good, str(folder / "nan.wav"), "-o", out], "nan.wav"),
        "inf": (["texture", str(folder / "inf.wav"), "-o", out, "--seconds", "1"], "inf.wav"),
        "unknown value": (["transfer", good, good, "-o", out, "--init", "zeros"], "--init"),
        "bad number": (["transfer", good, good, "-o", out, "--iterations", "many"],
                       "--iterations"),
        "bad momentum": (["transfer", good, good, "-o", out, "--momentum", "1.5"], "momentum"),
        "bad weights": (["transfer", good, good, "-o", out, "--style-weights", "1,2"],
                        "--style-weights"),
        "output is input": (["transfer", good, good, "-o", good], good),
        "no folder": (["transfer", good, good, "-o", str(folder / "nowhere" / "o.wav")],
                      "nowhere"),
        "metrics no folder": (["transfer", good, good, "-o", out, "--metrics",
                               str(folder / "nowhere" / "m.json")], "nowhere"),
        "plot is input": (["transfer", good, good, "-o", out, "--plot", good], good),
        "bad suffix": (["transfer", good, good, "-o", str(folder / "o.xyz")], "o.xyz"),
        "texture init": (["texture", good, "-o", out, "--seconds", "1", "--init", "content"],
                         "--init"),
        "bad seconds": (["texture", good, "-o", out, "--seconds", "-1"], "--seconds"),
        "bad device": (["transfer", good, good, "-o", out, "--device", "tpu"], "tpu"),
        "plot missing": (["plot", str(folder / "missing.wav"), "-o", str(folder / "p.png")],
                         "missing.wav"),
    }


def test_every_bad_input_is_one_line_exit_2_and_no_output(clips, capsys) -> None:
    folder, content, style = clips
    cases = _bad_inputs(folder, content)
    before = _files(folder)
    for name, (argv, needle) in cases.items():
        code = cli.main([*argv, *TINY[:-3]] if argv[0] != "plot" else argv)
        assert code == 2, name
        _one_error_line(capsys, needle)
        assert _files(folder) == before, name


def test_silence_is_valid_input(tmp_path) -> None:
    silent = tmp_path / "silence.wav"
    sf.write(str(silent), np.zeros((RATE, 1)), RATE, subtype="PCM_16")
    out = tmp_path / "o.wav"
    assert cli.main(["transfer", str(silent), str(silent), "-o", str(out), *TINY]) == 0
    data, _ = sf.read(str(out))
    assert np.isfinite(data).all()


@pytest.mark.slow
def test_python_dash_m_runs_the_same_cli(clips) -> None:
    folder, content, style = clips
    out = folder / "m.wav"
    proc = subprocess.run([sys.executable, "-m", "audiostyle", "texture", style, "-o", str(out),
                           "--seconds", "0.4", *TINY], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert sf.info(str(out)).frames == 3200
    bad = subprocess.run([sys.executable, "-m", "audiostyle", "plot", str(folder / "no.wav"),
                          "-o", str(folder / "x.png")], capture_output=True, text=True,
                         timeout=300)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
