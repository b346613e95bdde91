"""The run policy of the long commands, with real signals to real processes: the first Ctrl-C
stops the optimisation, writes the best result so far (a complete, valid file), says so in one
line and exits 130; a second Ctrl-C while that result is reconstructed or written aborts at
once, exit 130, and leaves no file at all.

Ctrl-C is SIGINT to the process group of a ``python -m audiostyle|imagestyle`` started in its own
session, as a terminal sends it. Each run is tiny and its iteration budget endless, so the
optimisation is always running when the first signal lands: the test waits until the progress
bar shows a loss. The optimiser of the audio runs is Adam, which has no convergence test that
could end the run before the signal.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]  # the repository, on the runs' PYTHONPATH
RATE = 8000
SECONDS = 1.5  # the content's length, and the texture's
AUDIO = ["--sample-rate", str(RATE), "--n-fft", "256", "--hop", "64", "--filters", "64",
         "--kernel-width", "5", "--iterations", "100000", "--optimizer", "adam"]
IMAGE = ["--features", "random-multiscale", "--size", "32", "--iterations", "100000"]
CONTENT_PX, STYLE_PX = (40, 30), (48, 24)  # (W, H); --size 32 gives 32 x 24 and 32 x 16
EXPECTED_PX = {"transfer": (32, 24), "texture": (32, 16)}

# A stand-in for a slow disk: the image is complete in its temporary file, then the rename
# waits, so that a second Ctrl-C lands while the result is being written.
SLOW_IMAGE_WRITE = """
import sys, time
from PIL import Image
save = Image.Image.save
def slow_save(self, *args, **kwargs):
    save(self, *args, **kwargs)
    print("test: writing the result", file=sys.stderr, flush=True)
    time.sleep(60)
Image.Image.save = slow_save
from imagestyle.cli import main
sys.exit(main(sys.argv[1:]))
"""

COMMANDS = [
    pytest.param("audiostyle", "transfer", id="audiostyle transfer"),
    pytest.param("audiostyle", "texture", id="audiostyle texture"),
    pytest.param("imagestyle", "transfer", id="imagestyle transfer"),
    pytest.param("imagestyle", "texture", id="imagestyle texture"),
]


def _inputs(folder: Path, tool: str, command: str) -> list[str]:
    """Write the inputs of ``tool command`` into ``folder`` (a transfer's content, a style);
    return the command's arguments before the options."""
    rng = np.random.default_rng(0)
    transfer = command == "transfer"
    if tool == "audiostyle":
        sf.write(folder / "style.wav", (0.2 * rng.standard_normal(RATE)).astype(np.float32), RATE)
        if not transfer:
            return ["texture", "style.wav", "--seconds", str(SECONDS)]
        t = np.arange(int(SECONDS * RATE)) / RATE
        chirp = 0.3 * np.sin(2 * np.pi * 220 * t * (1 + t)) + 0.02 * rng.standard_normal(t.size)
        sf.write(folder / "content.wav", chirp.astype(np.float32), RATE)
        return ["transfer", "content.wav", "style.wav"]
    images = {"content.png": CONTENT_PX, "style.png": STYLE_PX} if transfer else \
        {"style.png": STYLE_PX}
    for name, (w, h) in images.items():
        Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(folder / name)
    return [command, *images]


class Run:
    """A command run in its own session in ``folder``, its stderr read as it comes."""

    def __init__(self, folder: Path, argv: list[str], output: str) -> None:
        self.folder, self.output, self.err = folder, output, b""
        self.inputs = sorted(p.name for p in folder.iterdir())
        self.proc = subprocess.Popen(
            [sys.executable, *argv, "-o", output], cwd=folder, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, start_new_session=True,
            env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)})

    def wait_for(self, needle: bytes, timeout: float = 60.0) -> None:
        """Read stderr until it shows ``needle`` (after what was read before)."""
        start, deadline = len(self.err), time.monotonic() + timeout
        while needle not in self.err[start:]:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self.proc.stderr], [], [], max(0.0, left))
            chunk = os.read(self.proc.stderr.fileno(), 65536) if ready else b""
            assert chunk, f"no {needle!r} on stderr: {self.text()[-2000:]}"
            self.err += chunk

    def ctrl_c(self) -> None:
        os.killpg(self.proc.pid, signal.SIGINT)

    def finish(self, timeout: float) -> int:
        """Wait for the exit (killing the process after ``timeout`` s) and read the rest."""
        try:
            rest = self.proc.communicate(timeout=timeout)[1]
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            rest = self.proc.communicate()[1]
            pytest.fail(f"still running {timeout} s after Ctrl-C: {self.text()[-2000:]}")
        self.err += rest
        return self.proc.returncode

    def text(self) -> str:
        return self.err.decode(errors="replace")

    def files(self) -> list[str]:
        """What the folder holds now (temporary files included)."""
        return sorted(p.name for p in self.folder.iterdir())

    def lines(self) -> list[str]:
        """stderr's lines as a terminal leaves them (progress bars overwritten by ``\\r``)."""
        return [s for s in (line.split("\r")[-1].strip() for line in self.text().split("\n")) if s]


Start = Callable[..., Run]


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Start]:
    """``start(tool, command, *options, script=None) -> Run``: the inputs written to
    ``tmp_path`` and ``python -m tool command`` (or ``python -c script command``, a stand-in
    for ``tool``) started there with the tiny settings and ``-o out.wav|out.png``; killed at the
    end if still running."""
    runs: list[Run] = []

    def run(tool: str, command: str, *options: str, script: str | None = None) -> Run:
        args = _inputs(tmp_path, tool, command)
        launch = ["-m", tool] if script is None else ["-c", script]
        tiny, out = (AUDIO, "out.wav") if tool == "audiostyle" else (IMAGE, "out.png")
        runs.append(Run(tmp_path, [*launch, *args, *tiny, *options], out))
        return runs[-1]

    yield run
    for r in runs:
        if r.proc.poll() is None:
            os.killpg(r.proc.pid, signal.SIGKILL)
            r.proc.communicate()


@pytest.mark.parametrize("tool,command", COMMANDS)
def test_ctrl_c_writes_the_best_result_so_far_and_exits_130(tmp_path: Path, start: Start,
                                                            tool: str, command: str) -> None:
    run = start(tool, command, *(["--griffin-lim-iters", "2"] if tool == "audiostyle" else []))
    run.wait_for(b"loss=")  # the optimisation has made steps
    run.ctrl_c()
    assert run.finish(timeout=30) == 130, run.text()[-2000:]
    assert len(run.lines()) == 1, run.text()[-2000:]  # one line, no traceback
    assert run.lines()[0].startswith(f"{tool}: interrupted; wrote the best result so far to "
                                     f"{run.output} (")
    assert run.files() == sorted([*run.inputs, run.output])  # no temporary file
    out = tmp_path / run.output
    if tool == "audiostyle":
        wave, rate = sf.read(out, dtype="float32")
        assert rate == RATE and wave.shape == (int(SECONDS * RATE),)
        assert np.isfinite(wave).all() and np.sqrt(np.mean(wave ** 2)) > 1e-3
    else:
        with Image.open(out) as img:
            img.load()  # the whole file decodes
            assert img.size == EXPECTED_PX[command]


@pytest.mark.parametrize("tool,command", COMMANDS)
def test_a_second_ctrl_c_while_writing_aborts_at_once_and_leaves_no_file(
        tmp_path: Path, start: Start, tool: str, command: str) -> None:
    """The second Ctrl-C lands in Griffin-Lim (audio: a million iterations) or while the image
    is being written (a stand-in for a slow disk)."""
    if tool == "audiostyle":
        run, busy = start(tool, command, "--griffin-lim-iters", "1000000"), b"Griffin-Lim"
    else:
        run = start("imagestyle", command, script=SLOW_IMAGE_WRITE)
        busy = b"test: writing the result"
    run.wait_for(b"loss=")
    run.ctrl_c()
    run.wait_for(busy)
    time.sleep(0.3)
    run.ctrl_c()
    stopped = time.monotonic()
    assert run.finish(timeout=30) == 130, run.text()[-2000:]
    assert time.monotonic() - stopped < 5.0, "the second Ctrl-C did not abort at once"
    assert "Traceback" not in run.text(), run.text()[-2000:]
    assert run.lines()[-1] == f"{tool}: interrupted; no output written"
    assert run.files() == run.inputs  # neither the output nor a temporary file
