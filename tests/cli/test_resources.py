"""Resource errors said plainly, before the work: a run that cannot fit in memory, and an output
the disk cannot take, each end in one line naming the option or the file, exit status 2, and no
output file (nor a temporary one) left behind."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from helpers.feedforward import tiny_cli_args

from audiostyle.cli import main as audiostyle
from imagestyle.cli import main as imagestyle

RATE = 8000
AUDIO = ["--sample-rate", str(RATE), "--n-fft", "256", "--hop", "64", "--filters", "16",
         "--kernel-widths", "5", "--iterations", "2", "--griffin-lim-iters", "2", "--quiet",
         "--device", "cpu"]
IMAGE = ["--features", "random-multiscale", "--size", "32", "--iterations", "2", "--quiet"]


@pytest.fixture
def media(tmp_path: Path) -> Path:
    """A second of audio and two small images in ``tmp_path``."""
    rng = np.random.default_rng(0)
    sf.write(tmp_path / "a.wav", 0.3 * rng.standard_normal(RATE), RATE)
    for name in ("photo.png", "style.png"):
        Image.fromarray((rng.random((40, 48, 3)) * 255).astype(np.uint8)).save(tmp_path / name)
    return tmp_path


def _one_line(capsys: pytest.CaptureFixture, *needles: str) -> str:
    """The one error line (training's own log line about the dataset aside), with ``needles``."""
    err = [line for line in capsys.readouterr().err.strip().splitlines()
           if not line.startswith("dataset:")]
    assert len(err) == 1 and "error:" in err[0], err
    for needle in needles:
        assert needle in err[0], err
    return err[0]


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


@pytest.mark.parametrize("argv, needles", [
    (["texture", "{a}", "-o", "{out}.wav", "--seconds", "1e9"],
     ("needs about", "TB of memory for --seconds 1e+09 with --filters 4096", "available: lower "
      "--seconds")),
    (["transfer", "{a}", "{a}", "-o", "{out}.wav", "--filters", "10000000"],
     ("needs about", "PB of memory", "with --filters 10000000", "available: lower --filters")),
], ids=["texture --seconds 1e9", "transfer --filters 10000000"])
def test_audio_runs_that_cannot_fit_are_refused_before_the_work(media, capsys, argv,
                                                                needles) -> None:
    out = media / "out"
    argv = [a.format(a=media / "a.wav", out=out) for a in argv]
    assert audiostyle(argv) == 2
    _one_line(capsys, *needles)
    assert not out.with_suffix(".wav").exists() and not _leftovers(media)


def test_an_image_run_that_cannot_fit_is_refused_before_the_work(media, capsys) -> None:
    out = media / "o.png"
    assert imagestyle(["transfer", str(media / "photo.png"), str(media / "style.png"), "-o",
                       str(out), "--size", "100000", "--features", "random-multiscale"]) == 2
    _one_line(capsys, "100000x83333 needs about", "memory", "--size", "would fit")
    assert not out.exists()


def test_feed_forward_runs_that_cannot_fit_are_refused(media, capsys, photo_dir, style_png
                                                       ) -> None:
    model = media / "m.pt"
    assert imagestyle(tiny_cli_args(photo_dir, style_png, media / "big.pt", "--image-size",
                                    "20000")) == 2
    _one_line(capsys, "needs about", "for training at --image-size 20000 with --batch-size 2",
              "lower --image-size or --batch-size")
    assert not (media / "big.pt").exists()
    assert imagestyle(tiny_cli_args(photo_dir, style_png, model)) == 0
    out = media / "styled.png"
    assert imagestyle(["stylize", "--model", str(model), str(media / "photo.png"), "-o",
                       str(out), "--size", "60000", "--device", "cpu"]) == 2
    _one_line(capsys, "needs about", "lower --size or --batch-size")
    assert not out.exists()


def _no_space(monkeypatch: pytest.MonkeyPatch, suffix: str) -> None:
    """Writes of files ending in ``suffix`` fail as on a full disk (``fsync`` says ENOSPC,
    as it does when the blocks cannot be allocated)."""
    real = os.fsync

    def fsync(fd: int) -> None:
        if os.readlink(f"/proc/self/fd/{fd}").endswith(suffix):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)


@pytest.mark.parametrize("kind", ["audio", "metrics", "plot"])
def test_an_audio_output_the_disk_cannot_take_names_the_file_and_the_cause(
        media, capsys, monkeypatch, kind) -> None:
    out, metrics, plot = media / "o.wav", media / "m.json", media / "p.png"
    target = {"audio": out, "metrics": metrics, "plot": plot}[kind]
    _no_space(monkeypatch, target.suffix + "")
    code = audiostyle(["transfer", str(media / "a.wav"), str(media / "a.wav"), "-o", str(out),
                       "--metrics", str(metrics), "--plot", str(plot), *AUDIO])
    assert code == 2
    _one_line(capsys, f"audiostyle: error: cannot write {target}: no space left on device")
    assert not target.exists() and not _leftovers(media)


def test_an_image_or_model_file_the_disk_cannot_take_names_the_file(
        media, capsys, monkeypatch, photo_dir, style_png) -> None:
    _no_space(monkeypatch, ".png")
    out = media / "t.png"
    assert imagestyle(["texture", str(media / "style.png"), "-o", str(out), *IMAGE]) == 2
    _one_line(capsys, f"imagestyle: error: cannot write {out}: no space left on device")
    assert not out.exists() and not _leftovers(media)
    _no_space(monkeypatch, ".pt")
    model = media / "m.pt"
    assert imagestyle(tiny_cli_args(photo_dir, style_png, model)) == 2
    _one_line(capsys, "cannot write", "m.pt", "no space left on device")
    assert not model.exists() and not _leftovers(media)


@pytest.fixture
def small_disk(tmp_path: Path):
    """A 64 KiB filesystem (tmpfs), where this machine lets the tests mount one (root)."""
    mount = tmp_path / f"small-{uuid.uuid4().hex[:6]}"
    mount.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)],
            capture_output=True).returncode != 0:
        pytest.skip("cannot mount a small filesystem here (the simulated ENOSPC tests above "
                    "cover the same path)")
    yield mount
    subprocess.run(["umount", str(mount)], check=False)


def test_a_result_that_fills_a_real_small_disk_leaves_nothing_behind(media, capsys,
                                                                     small_disk) -> None:
    out = small_disk / "t.wav"
    assert audiostyle(["texture", str(media / "a.wav"), "-o", str(out), "--seconds", "8",
                       *AUDIO]) == 2
    _one_line(capsys, f"cannot write {out}: no space left on device")
    assert list(small_disk.iterdir()) == []
    image = small_disk / "t.png"
    big = media / "big.png"
    rng = np.random.default_rng(1)
    Image.fromarray((rng.random((300, 300, 3)) * 255).astype(np.uint8)).save(big)
    assert imagestyle(["texture", str(big), "-o", str(image), "--features", "random-multiscale",
                       "--size", "300", "--iterations", "1", "--quiet"]) == 2
    _one_line(capsys, f"cannot write {image}: no space left on device")
    assert list(small_disk.iterdir()) == []
