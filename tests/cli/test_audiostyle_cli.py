"""``audiostyle`` end to end through ``main([...])``: outputs, metrics, plots, and every bad input
(one line on stderr, exit status 2, no output file)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import warnings
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
    _one_error_line_in(capsys.readouterr().err, *needles)


def _one_error_line_in(stderr: str, *needles: str) -> None:
    err = stderr.strip().splitlines()
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
    assert m["domain"] == "spectrogram" and m["budget"] == {"spectrogram": 4, "waveform": 0}
    assert list(m["stages"]) == ["spectrogram"] and m["stages"]["spectrogram"]["iterations"] == 8
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert _files(folder) == {"content.wav", "style.flac", "out.wav", "m.json", "p.png"}


def test_waveform_domain_end_to_end(clips) -> None:
    """--domain waveform: the refinement (spectrogram stage, Griffin-Lim, waveform stage) for a
    stereo transfer, the one-stage form from noise for a texture; the metrics say which."""
    folder, content, style = clips
    out, metrics = folder / "w.wav", folder / "w.json"
    assert cli.main(["transfer", content, style, "-o", str(out), "--metrics", str(metrics),
                     "--stereo", "--domain", "waveform", "--refine-iterations", "3",
                     "--refine-filters", "24", *TINY]) == 0
    data, rate = sf.read(str(out), always_2d=True)
    assert rate == 11025 and data.shape == (8820, 2) and np.isfinite(data).all()
    m = json.loads(metrics.read_text())
    assert m["domain"] == "waveform" and m["budget"] == {"spectrogram": 4, "waveform": 3}
    assert m["settings"]["waveform_iterations"] == 3
    assert m["settings"]["waveform_init"] == "griffin-lim"  # the default start
    assert m["settings"]["waveform_filters"] == 24
    assert m["stages"]["spectrogram"]["iterations"] == 8  # two channels x 4
    assert m["stages"]["waveform"]["iterations"] == 6 and m["iterations"] == 14
    assert m["loss"] == pytest.approx(m["stages"]["waveform"]["loss"])
    assert "waveform" in m["seconds"] and 0 < m["spectral_convergence"]
    tex, tex_metrics = folder / "t.wav", folder / "t.json"
    assert cli.main(["texture", style, "-o", str(tex), "--seconds", "0.5", "--domain",
                     "waveform", "--waveform-init", "noise", "--metrics", str(tex_metrics),
                     *TINY]) == 0
    assert sf.info(str(tex)).frames == 4000
    m = json.loads(tex_metrics.read_text())
    assert list(m["stages"]) == ["waveform"] and m["stages"]["waveform"]["iterations"] == 4
    assert m["budget"]["waveform"] == 4 and m["spectral_convergence"] is None


def test_texture_and_plot_commands(clips) -> None:
    folder, content, style = clips
    out = folder / "tex.wav"
    assert cli.main(["texture", style, content, "--style-weights", "2,1", "-o", str(out),
                     "--seconds", "0.5", *TINY]) == 0
    data, rate = sf.read(str(out), always_2d=True)
    assert rate == RATE and data.shape == (4000, 1)
    assert cli.main(["plot", content, style, str(out), "-o", str(folder / "s.png")]) == 0
    assert (folder / "s.png").stat().st_size > 1000


@pytest.mark.parametrize("argv", [["--preset", "fast"], ["--preset", "best"],
                                  ["--init", "shaped"], ["--preset", "fast", "--stereo"],
                                  ["--preset", "fast", "--waveform-init", "shaped"]],
                         ids=["fast", "best", "init-shaped", "fast-stereo", "fast-shaped"])
def test_every_texture_start_runs_on_files_read_on_demand(clips, argv) -> None:
    """The README's ``audiostyle texture music.wav ... --preset fast``: the shaped start (the
    preset's on a noise-like style; this style is a tone) reads the style from the file,
    block by block, as the Grams do (it once failed on every file)."""
    folder, content, style = clips
    out = folder / "tex.wav"
    assert cli.main(["texture", style, content, "-o", str(out), "--seconds", "0.5", *TINY,
                     *argv]) == 0
    data, rate = sf.read(str(out), always_2d=True)
    assert rate == RATE and data.shape == (4000, 2 if "--stereo" in argv else 1)
    assert np.isfinite(data).all() and np.abs(data).max() > 1e-3


@pytest.mark.parametrize("stereo", [False, True], ids=["mono", "stereo"])
def test_inputs_are_read_on_demand_never_loaded_whole(clips, monkeypatch, stereo) -> None:
    """Without --plot or --metrics no input file is decoded whole: the style is read a block
    at a time for its Gram, the content straight to the working rate."""
    folder, content, style = clips

    def whole(*args, **kwargs):
        raise AssertionError("an input was loaded whole")

    monkeypatch.setattr("audiostyle.audio._read_blocks", whole)
    out = folder / "o.wav"
    argv = ["transfer", content, style, "-o", str(out), *TINY] + (["--stereo"] if stereo else [])
    assert cli.main(argv) == 0
    assert sf.info(str(out)).channels == (2 if stereo else 1)
    assert cli.main(["texture", style, "-o", str(out), "--seconds", "0.5", *TINY]) == 0
    for start in ("auto", "shaped"):  # fast's start rule measures the style; the shaped start
        assert cli.main(["texture", style, "-o", str(out), "--seconds", "0.5", *TINY,
                         "--preset", "fast", "--waveform-init", start]) == 0


def test_presets_and_options_reach_the_config(clips, monkeypatch, capsys) -> None:
    folder, content, style = clips
    seen = {}

    def fake(content_clip, styles, config, **kwargs):
        seen.update(config=config, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr("audiostyle.api.style_transfer", fake)
    code = cli.main(["transfer", content, style, "-o", str(folder / "o.wav"), "--preset", "fast",
                     "--waveform-init", "content", "--kernel-widths", "3,7", "--momentum",
                     "0.5", "--init", "content"])
    assert code == 130 and not (folder / "o.wav").exists()
    cfg = seen["config"]
    assert cfg.features.filters == 2048 and cfg.features.kernel_widths == (3, 7)
    assert cfg.reconstruction.momentum == 0.5 and cfg.optim.init == "content"
    # fast optimises the samples from the content's: no spectrogram stage to start from the
    # content, no Griffin-Lim to take the momentum; the user is told, the run goes on
    err = capsys.readouterr().err
    assert "note: --init, --momentum change nothing here" in err and "griffin-lim" in err
    code = cli.main(["transfer", content, style, "-o", str(folder / "o.wav"), "--preset",
                     "best", "--momentum", "0.5", "--init", "content"])
    assert code == 130 and "note:" not in capsys.readouterr().err


def test_interrupted_run_writes_the_best_result_so_far(clips, monkeypatch, capsys,
                                                       ctrl_c_at) -> None:
    """Ctrl-C inside the optimisation: the best result so far is reconstructed and written,
    the command says where and exits 130 (as imagestyle does)."""
    folder, content, style = clips
    from audiostyle import stages

    real = stages.optimize

    def interrupted(x0, loss_fn, optim, **kwargs):
        return real(x0, ctrl_c_at(loss_fn, 3), optim, **kwargs)

    monkeypatch.setattr(stages, "optimize", interrupted)
    out = folder / "o.wav"
    code = cli.main(["transfer", content, style, "-o", str(out), "--metrics",
                     str(folder / "m.json"), *TINY])
    assert code == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "interrupted; wrote the best result so far to" in err[0], err
    data, rate = sf.read(str(out), always_2d=True)
    source = sf.info(content)
    assert rate == source.samplerate and data.shape[0] == source.frames
    assert np.isfinite(data).all() and np.abs(data).max() > 0
    assert json.loads((folder / "m.json").read_text())["interrupted"] is True


def test_summary_line_unless_quiet(clips, capsys) -> None:
    folder, content, style = clips
    argv = ["transfer", content, style, "-o", str(folder / "o.wav"), *TINY]
    assert cli.main([a for a in argv if a != "--quiet"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith(f"audiostyle: wrote {folder / 'o.wav'} (0.8 s, 11025 Hz, 1 ch")
    assert cli.main(argv) == 0 and capsys.readouterr().err == ""


def _make_bad_files(folder: Path) -> None:
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
    (folder / "takes.wav").mkdir()  # a folder with an audio file's name


# (argv, a piece of the message); "{dir}" is the inputs' folder, "{good}" a good clip, "{out}"
# an output path in that folder.
BAD_INPUTS = [
    pytest.param(["transfer", "{dir}/missing.wav", "{good}", "-o", "{out}"], "missing.wav",
                 id="missing"),
    pytest.param(["transfer", "{dir}/empty.wav", "{good}", "-o", "{out}"], "empty.wav",
                 id="empty"),
    pytest.param(["transfer", "{good}", "{dir}/text.wav", "-o", "{out}"], "text.wav",
                 id="not audio"),
    pytest.param(["texture", "{dir}/zero.wav", "-o", "{out}", "--seconds", "1"], "zero.wav",
                 id="zero samples"),
    pytest.param(["transfer", "{dir}/short.wav", "{good}", "-o", "{out}"], "short.wav",
                 id="too short"),
    pytest.param(["transfer", "{dir}/short.wav", "{good}", "-o", "{out}"],
                 "smaller --kernel-widths or --hop", id="too short: the flags to change"),
    pytest.param(["transfer", "{good}", "{dir}/nan.wav", "-o", "{out}"], "nan.wav", id="nan"),
    pytest.param(["texture", "{dir}/inf.wav", "-o", "{out}", "--seconds", "1"], "inf.wav",
                 id="inf"),
    pytest.param(["transfer", "{dir}/takes.wav", "{good}", "-o", "{out}"],
                 "takes.wav: is a folder", id="content is a folder"),
    pytest.param(["texture", "{dir}", "-o", "{out}", "--seconds", "1"], "is a folder",
                 id="style is a folder"),
    pytest.param(["transfer", "{good}", "{good}", "-o", "{out}", "--init", "zeros"], "--init",
                 id="unknown value"),
    pytest.param(["transfer", "{good}", "{good}", "-o", "{out}", "--iterations", "many"],
                 "--iterations", id="bad number"),
    pytest.param(["transfer", "{good}", "{good}", "-o", "{out}", "--momentum", "1.5"],
                 "--momentum must be in [0, 1), got 1.5", id="bad momentum"),
    pytest.param(["transfer", "{good}", "{good}", "-o", "{out}", "--content-weight", "-1"],
                 "--content-weight must be finite and non-negative, got -1.0",
                 id="negative content weight"),
    pytest.param(["transfer", "{good}", "{good}", "-o", "{out}", "--style-weights", "1,2"],
                 "--style-weights", id="bad weights"),
    pytest.param(["transfer", "{good}", "{good}", "-o", "{good}"], "{good}",
                 id="output is input"),
    pytest.param(["transfer", "{good}", "{good}", "-o", "{dir}/nowhere/o.wav"], "nowhere",
                 id="no folder"),
    pytest.param(["transfer", "{good}", "{good}", "-o", "{out}", "--metrics",
                  "{dir}/nowhere/m.json"], "nowhere", id="metrics no folder"),
    pytest.param(["transfer", "{good}", "{good}", "-o", "{out}", "--metrics", "{out}"],
                 "--metrics output", id="metrics is the output"),
    pytest.param(["transfer", "{good}", "{good}", "-o", "{out}", "--plot", "{good}"], "{good}",
                 id="plot is input"),
    pytest.param(["transfer", "{good}", "{good}", "-o", "{dir}/o.xyz"], "o.xyz",
                 id="bad suffix"),
    pytest.param(["texture", "{good}", "-o", "{out}", "--seconds", "1", "--init", "content"],
                 "--init", id="texture init"),
    pytest.param(["texture", "{good}", "-o", "{out}", "--seconds", "-1"], "--seconds",
                 id="bad seconds"),
    pytest.param(["transfer", "{good}", "{good}", "-o", "{out}", "--device", "tpu"], "tpu",
                 id="bad device"),
    pytest.param(["plot", "{dir}/missing.wav", "-o", "{dir}/p.png"], "missing.wav",
                 id="plot missing"),
    pytest.param(["transfer", "{good}", "{good}", "-o", "{out}", "--waveform-iterations", "5"],
                 "--waveform-iterations needs --domain 'waveform', got --domain 'spectrogram'",
                 id="waveform iterations without the waveform domain"),
    pytest.param(["transfer", "{good}", "{good}", "-o", "{out}", "--refine-filters", "64"],
                 "--waveform-filters needs --domain 'waveform', got --domain 'spectrogram'",
                 id="waveform filters (by their older name) without the waveform domain"),
    pytest.param(["transfer", "{good}", "{good}", "-o", "{out}", "--domain", "waveform",
                  "--waveform-filters", "0"], "--waveform-filters must be a positive integer",
                 id="no waveform filters"),
    pytest.param(["transfer", "{good}", "{good}", "-o", "{out}", "--waveform-init", "noise"],
                 "--waveform-init needs --domain 'waveform'",
                 id="waveform init without the waveform domain"),
    pytest.param(["transfer", "{good}", "{good}", "-o", "{out}", "--domain", "waveform",
                  "--waveform-iterations", "-1"],
                 "--waveform-iterations must be a non-negative integer, got -1",
                 id="negative waveform iterations"),
    pytest.param(["transfer", "{good}", "{good}", "-o", "{out}", "--domain", "samples"],
                 "--domain", id="unknown domain"),
    pytest.param(["texture", "{good}", "-o", "{out}", "--seconds", "1", "--domain", "waveform",
                  "--waveform-init", "content"], "--waveform-init", id="texture from content"),
    pytest.param(["transfer", "{good}", "{good}", "-o", "{out}", "--window-seconds", "1"],
                 "--window-seconds must be at least 2.05", id="window shorter than 4 overlaps"),
    pytest.param(["transfer", "{good}", "{good}", "-o", "{out}", "--device", "cpu,,cpu"],
                 "--device must be names separated by commas", id="empty device in a list"),
    pytest.param(["transfer", "{good}", "{good}", "-o", "{out}", "--device", "cpu,cuda:7"],
                 "cuda:7", id="missing device in a list"),
]


@pytest.mark.parametrize("argv,needle", BAD_INPUTS)
def test_bad_input_is_one_line_exit_2_and_no_output(clips, capsys, argv, needle) -> None:
    folder, content, style = clips
    _make_bad_files(folder)
    argv, needle = [a.format(dir=folder, good=content, out=folder / "out.wav") for a in argv], \
        needle.format(good=content)
    before = _files(folder)
    code = cli.main([*argv, *TINY[:-3]] if argv[0] != "plot" else argv)
    assert code == 2
    _one_error_line(capsys, needle)
    assert _files(folder) == before


@pytest.mark.parametrize("spelling", ["same", "through a dot"])
def test_metrics_on_the_output_path_clobbers_nothing(clips, capsys, spelling) -> None:
    folder, content, style = clips
    out = folder / "out.wav"
    out.write_bytes(b"an earlier result")
    metrics = str(out) if spelling == "same" else f"{folder}/./out.wav"
    code = cli.main(["transfer", content, style, "-o", str(out), "--metrics", metrics,
                     *TINY])
    assert code == 2
    _one_error_line(capsys, "--metrics output", "is also another output")
    assert out.read_bytes() == b"an earlier result"
    assert _files(folder) == {"content.wav", "style.flac", "out.wav"}


@pytest.mark.parametrize("suffix,fmt", [(".flac", "FLAC"), (".ogg", "OGG")])
def test_writes_flac_and_ogg(clips, suffix, fmt) -> None:
    folder, content, style = clips
    out = folder / f"out{suffix}"
    assert cli.main(["transfer", content, style, "-o", str(out), "--stereo", *TINY]) == 0
    info = sf.info(str(out))
    assert info.format == fmt and info.samplerate == 11025 and info.channels == 2
    assert info.frames == 8820  # the content's length
    data, _ = sf.read(str(out), always_2d=True)
    assert np.isfinite(data).all() and 0.01 < np.abs(data).max() < 1.0
    assert _files(folder) == {"content.wav", "style.flac", out.name}


def test_reads_mp3_input(clips) -> None:
    folder, content, style = clips
    if "MP3" not in sf.available_formats():
        pytest.skip("this libsndfile has no MP3 support (needs 1.1 or later)")
    data, rate = sf.read(content, always_2d=True)
    sf.write(str(folder / "content.mp3"), data, rate, format="MP3")
    decoded = sf.info(str(folder / "content.mp3")).frames
    out = folder / "out.wav"
    assert cli.main(["transfer", str(folder / "content.mp3"), style, "-o", str(out),
                     "--stereo", *TINY]) == 0
    info = sf.info(str(out))
    assert (info.samplerate, info.channels, info.frames) == (rate, 2, decoded)


@pytest.mark.parametrize("command", ["transfer", "texture"])
def test_failing_loss_is_one_line_and_writes_nothing(clips, capsys, failing_loss,
                                                     command) -> None:
    """A NaN loss or an out-of-memory error during the optimisation: exit 1, one line, no
    traceback, no output, no metrics."""
    folder, content, style = clips
    inputs = [content, style] if command == "transfer" else [style, "--seconds", "0.5"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code = cli.main([command, *inputs, "-o", str(folder / "out.wav"), "--metrics",
                         str(folder / "m.json"), *TINY])
    # Python prints warnings on stderr: one would add lines to the one-line error.
    shown = [w for w in caught if not issubclass(w.category, DeprecationWarning)]
    assert not shown, [str(w.message) for w in shown]
    assert code == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    _one_error_line_in(err, *failing_loss)
    assert _files(folder) == {"content.wav", "style.flac"}


def test_silence_is_valid_input(tmp_path) -> None:
    silent = tmp_path / "silence.wav"
    sf.write(str(silent), np.zeros((RATE, 1)), RATE, subtype="PCM_16")
    out = tmp_path / "o.wav"
    assert cli.main(["transfer", str(silent), str(silent), "-o", str(out), *TINY]) == 0
    data, _ = sf.read(str(out))
    assert np.isfinite(data).all()


@pytest.mark.slow
def test_library_errors_name_parameters_and_the_cli_names_flags(capsys) -> None:
    """The configuration raises ValueError naming n_fft and hop; the CLI says --n-fft, --hop."""
    from audiostyle.config import AudioStyleConfig

    with pytest.raises(ValueError, match="^hop must be an integer between 1 and n_fft"):
        AudioStyleConfig.build(n_fft=256, hop=5000)
    assert cli.main(["texture", "x.wav", "-o", "o.wav", "--seconds", "1", "--n-fft", "256",
                     "--hop", "5000"]) == 2
    _one_error_line(capsys, "--hop must be an integer between 1 and --n-fft, got 5000")


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


def test_readme_fast_preset_runs_for_real(clips, monkeypatch) -> None:
    """The README's first command (``--preset fast``; its content and style share their bands,
    as the examples do, so the spectrogram stage starts from the content's), with the real
    transfer at a small size; the result keeps the content's length, rate and level and,
    starting from the content, stays closer to it than to silence."""
    folder, content, _ = clips
    # the content's band (330 Hz) and its harmonics, not tonal enough for the tonal route
    t = np.arange(RATE) / RATE
    harmonics = 0.3 * np.sin(2 * math.pi * 340 * t) + sum(
        0.12 * np.sin(2 * math.pi * 340 * k * t) for k in range(2, 6))
    style = str(folder / "near.wav")
    sf.write(style, harmonics, RATE)
    seen = {}
    from audiostyle import stages

    real = stages.optimize

    def spy(x0, loss_fn, optim, **kwargs):
        seen.setdefault("x0", x0.clone())
        seen.setdefault("optim", optim)
        return real(x0, loss_fn, optim, **kwargs)

    monkeypatch.setattr(stages, "optimize", spy)
    out = folder / "result.wav"
    code = cli.main(["transfer", content, style, "-o", str(out), "--preset", "fast",
                     "--plot", str(folder / "result.png"), "--metrics", str(folder / "m.json"),
                     "--filters", "64",
                     "--iterations", "5", "--sample-rate", "8000", "--quiet"])
    assert code == 0 and out.exists() and (folder / "result.png").stat().st_size > 0
    data, rate = sf.read(str(out), always_2d=True)
    source, source_rate = sf.read(content, always_2d=True)
    assert rate == source_rate and data.shape[0] == source.shape[0] and data.shape[1] == 1
    mono = source.mean(axis=1)
    assert np.sqrt((data[:, 0] ** 2).mean()) == pytest.approx(np.sqrt((mono ** 2).mean()),
                                                              rel=0.05)
    # the spectrogram stage started from the content's spectrogram, not from 1e-3 noise
    assert float(seen["x0"].abs().max()) > 0.1
    settings = json.loads((folder / "m.json").read_text())["settings"]
    assert settings["route"] == "main"
    assert settings["spectrogram_start"] == settings["init"] == "content"
    assert settings["waveform_init"] == "griffin-lim"
    assert seen["optim"].line_search == "strong_wolfe" and seen["optim"].iterations == 5


def test_best_records_the_route_its_style_chose(clips) -> None:
    """``--preset best`` on a steady tone takes its tonal route (``fast``'s settings, the
    options given on top) and on noise its own; ``--metrics`` says which, and why."""
    folder, content, tone = clips
    noise = folder / "noise.wav"
    sf.write(str(noise), 0.2 * np.random.default_rng(0).standard_normal(8000), RATE)
    for style, route, weight in ((tone, "tonal", 0.01), (str(noise), "main", 0.045)):
        metrics = folder / f"{route}.json"
        assert cli.main(["transfer", content, style, "-o", str(folder / f"{route}.wav"),
                         "--preset", "best", "--waveform-iterations", "2",
                         "--metrics", str(metrics), *TINY]) == 0
        settings = json.loads(metrics.read_text())["settings"]
        assert settings["route"] == route and settings["content_weight"] == weight
        assert (settings["style_peak_band_share"] > 0.95) == (route == "tonal")
        assert settings["filters"] == 16 and settings["waveform_iterations"] == 2


def test_windows_spread_over_two_processes_give_the_one_process_result(tmp_path) -> None:
    """``--device cpu,cpu`` and ``torchrun --nproc-per-node 2`` (two gloo processes on the
    CPU) share a long transfer's windows; rank 0 writes what one process writes."""
    content = _write(tmp_path / "content.wav", 6.0)
    style = _write(tmp_path / "style.wav", 1.0, freq=880.0)
    small = [a for a in TINY if a not in ("--device", "cpu")]
    argv = ["transfer", content, style, *small, "--window-seconds", "2.1", "--seed", "3"]
    assert cli.main([*argv, "-o", str(tmp_path / "one.wav"), "--device", "cpu"]) == 0
    assert cli.main([*argv, "-o", str(tmp_path / "two.wav"), "--device", "cpu,cpu"]) == 0
    run = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
                          "-m", "audiostyle", *argv, "-o", str(tmp_path / "torchrun.wav"),
                          "--device", "cpu"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[:2000] + "\n...\n" + run.stderr[-1000:]
    one, _ = sf.read(tmp_path / "one.wav")
    for name in ("two.wav", "torchrun.wav"):
        other, _ = sf.read(tmp_path / name)
        np.testing.assert_array_equal(other, one)
    frames, window, overlap = 1 + int(6.0 * RATE) // 64, round(2.1 * RATE / 64), 64
    assert frames > 2 * window - overlap  # at least three windows to share


def _two_ranks_until_stopped(tmp_path):
    """A windowed 6 s transfer on ``--device cpu,cpu`` that runs until Ctrl-C, started in its
    own session (stderr piped). Returns the process and the output path."""
    content = _write(tmp_path / "content.wav", 6.0)
    style = _write(tmp_path / "style.wav", 1.0, freq=880.0)
    out = tmp_path / "out.wav"
    argv = [sys.executable, "-m", "audiostyle", "transfer", content, style, "-o", str(out),
            "--sample-rate", "8000", "--n-fft", "256", "--hop", "64", "--filters", "256",
            "--kernel-width", "5", "--iterations", "100000", "--griffin-lim-iters", "2",
            "--optimizer", "adam",  # L-BFGS converges in seconds: on a busy machine the run
            "--window-seconds", "2.1", "--device", "cpu,cpu"]  # could end before the signal
    return subprocess.Popen(argv, stderr=subprocess.PIPE, start_new_session=True), out


def test_ctrl_c_reaches_every_process_and_rank_0_writes_the_best_so_far(tmp_path) -> None:
    """``--device cpu,cpu``: Ctrl-C (SIGINT to the terminal's process group) stops both
    workers; rank 0 writes the best result so far, exit status 130, no temporary file."""
    import os
    import signal
    import time

    proc, out = _two_ranks_until_stopped(tmp_path)
    seen, deadline = b"", time.monotonic() + 120
    while b"window 1/" not in seen and b"window 2/" not in seen and time.monotonic() < deadline:
        chunk = os.read(proc.stderr.fileno(), 4096)  # the workers' progress bars
        assert chunk, f"the run ended before any window started: {seen[-2000:]!r}"
        seen += chunk
    time.sleep(3.0)  # rank 1 shows no bar: give it time to reach its windows too (a busy
    os.killpg(proc.pid, signal.SIGINT)  # machine can hold it in its style Gram for a while)
    rest = proc.communicate(timeout=120)[1]
    assert proc.returncode == 130, (seen + rest).decode(errors="replace")[-2000:]
    assert b"interrupted; wrote the best result so far" in rest
    assert sf.info(str(out)).frames == 6 * 8000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["content.wav", "out.wav", "style.wav"]


def test_ctrl_c_before_the_windows_still_ends_in_the_best_so_far(tmp_path) -> None:
    """``--device cpu,cpu``: a Ctrl-C that lands while the ranks are still setting up or
    computing the style Gram (outside any optimisation) stops no rank on the spot: each
    joins the others, rank 0 writes the best result so far, exit status 130."""
    import os
    import signal

    proc, out = _two_ranks_until_stopped(tmp_path)
    seen = b""
    while b"style transfer:" not in seen:  # rank 0's bar over the windows, drawn before
        chunk = os.read(proc.stderr.fileno(), 4096)  # the style Gram: both ranks are set up
        assert chunk, f"the run ended before it started: {seen[-2000:]!r}"
        seen += chunk
    os.killpg(proc.pid, signal.SIGINT)
    rest = proc.communicate(timeout=120)[1]
    text = (seen + rest).decode(errors="replace")
    assert proc.returncode == 130, text[-2000:]
    assert "interrupted; wrote the best result so far" in text, text[-2000:]
    assert "window 3/" not in text  # rank 0 stopped at its first window
    assert sf.info(str(out)).frames == 6 * 8000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["content.wav", "out.wav", "style.wav"]


def _workers_of(pid: int) -> list[int]:
    """The processes ``multiprocessing`` spawned from ``pid`` (Linux ``/proc``)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (stat.parent / "cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            continue  # ended meanwhile
        if ppid == pid and b"spawn_main" in cmdline:
            found.append(int(stat.parent.name))
    return found


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_ctrl_c_while_the_workers_still_start_ends_in_the_best_so_far(tmp_path) -> None:
    """``--device cpu,cpu``: a Ctrl-C that lands as soon as both workers exist, while they
    import torch (before either can handle it) stops nothing on the spot: no worker ends
    alone in a traceback, rank 0 writes the best result so far, exit status 130."""
    import os
    import signal
    import time

    proc, out = _two_ranks_until_stopped(tmp_path)
    deadline = time.monotonic() + 60
    while len(_workers_of(proc.pid)) < 2:
        assert proc.poll() is None and time.monotonic() < deadline, "no two workers started"
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGINT)
    text = proc.communicate(timeout=180)[1].decode(errors="replace")
    assert proc.returncode == 130, text[-2000:]
    assert "interrupted; wrote the best result so far" in text, text[-2000:]
    assert "Traceback" not in text and "KeyboardInterrupt" not in text, text[-2000:]
    assert sf.info(str(out)).frames == 6 * 8000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["content.wav", "out.wav", "style.wav"]


@pytest.mark.parametrize("command", ["transfer", "texture"])
def test_an_output_format_that_cannot_hold_the_rate_fails_before_the_work(
        tmp_path, capsys, monkeypatch, command) -> None:
    """FLAC holds rates above 65535 Hz only in multiples of 10: a 70001 Hz input written as
    .flac is refused in one line, before any optimisation, and nothing is written."""
    odd = _write(tmp_path / "odd.wav", 0.6, rate=70001)

    def never(*args, **kwargs):
        raise AssertionError("the optimisation ran")

    monkeypatch.setattr("audiostyle.api.style_transfer", never)
    monkeypatch.setattr("audiostyle.api.texture_synthesis", never)
    out = tmp_path / "out.flac"
    inputs = [odd, odd] if command == "transfer" else [odd, "--seconds", "1"]
    before = _files(tmp_path)
    assert cli.main([command, *inputs, "-o", str(out), *TINY]) == 2
    _one_error_line(capsys, "cannot write FLAC audio at 70001 Hz")
    assert _files(tmp_path) == before
