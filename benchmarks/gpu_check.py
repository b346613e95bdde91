"""The GPU check: the CUDA paths end to end, timed against the targets, in one table.

Run by ``benchmarks/gpu_check.sh`` on a machine with an NVIDIA GPU (a few minutes on an H100).
Each row is one timed run after a warm-up; the targets are those of the GPU-check issue:

* audio, 10 s content + 10 s style, default (reference) settings, end to end: < 3 s;
* audio, the same with ``--precision bf16``;
* audio, one hour of content at ``--preset fast``: < 2 min (``--long`` only);
* Gatys, VGG-19 (random weights), 512 px, 500 L-BFGS iterations: < 10 s;
* Johnson transform net, 1920x1080 frames, bf16 autocast: >= 60 frames/s.

    python benchmarks/gpu_check.py [--device cuda] [--long]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import sync as _sync  # noqa: E402

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE.parent / "examples"


def _tile(path: Path, seconds: float, out: Path) -> Path:
    data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    reps = int(np.ceil(seconds * rate / data.shape[0]))
    sf.write(str(out), np.tile(data, (reps, 1))[: int(seconds * rate)], rate, subtype="PCM_16")
    return out


def audio_run(device: str, seconds: float, *extra: str) -> float:
    """Wall seconds of ``audiostyle transfer`` (load to written WAV) on ``seconds`` of speech."""
    from audiostyle.cli import main

    with tempfile.TemporaryDirectory() as tmp:
        content = _tile(EXAMPLES / "speech.wav", seconds, Path(tmp) / "c.wav")
        style = _tile(EXAMPLES / "music.wav", min(seconds, 10.0), Path(tmp) / "s.wav")
        args = ["transfer", str(content), str(style), "-o", str(Path(tmp) / "o.wav"),
                "--device", device, "--quiet", *extra]
        t = time.perf_counter()
        if main(args) != 0:
            raise RuntimeError(f"audiostyle {' '.join(args)} failed")
        return time.perf_counter() - t


def gatys_run(device: str, size: int, iterations: int) -> float:
    from imagestyle.gatys import GatysConfig, stylize

    g = torch.Generator().manual_seed(0)
    content = torch.rand(1, 3, size, size, generator=g)
    style = torch.rand(1, 3, size, size, generator=g)
    cfg = GatysConfig(size=size, iterations=iterations, weights="random", device=device,
                      quiet=True)
    t = time.perf_counter()
    stylize(content, [style], cfg)
    _sync(torch.device(device))
    return time.perf_counter() - t


def johnson_fps(device: torch.device, frames: int = 60) -> float:
    from imagestyle.feedforward.networks import build_network

    net = build_network("johnson", {}).to(device).eval()  # the default Johnson network
    x = torch.rand(1, 3, 1080, 1920, device=device)
    if device.type == "cuda":
        net = net.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    with torch.inference_mode(), torch.autocast(device.type, dtype=dtype,
                                                enabled=device.type == "cuda"):
        for _ in range(3):
            net(x)
        _sync(device)
        t = time.perf_counter()
        for _ in range(frames):
            net(x)
        _sync(device)
    return frames / (time.perf_counter() - t)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--long", action="store_true", help="also one hour of audio, --preset fast")
    p.add_argument("--quick", action="store_true", help="tiny settings (a CPU smoke test)")
    args = p.parse_args()
    device = torch.device(args.device)
    q = args.quick
    rows = []
    audio_small = ["--filters", "64", "--iterations", "3", "--griffin-lim-iters", "3"] if q else []
    audio_run(args.device, 2.0, *audio_small)  # warm-up (cuDNN plans, allocator)
    rows.append(("audio 10 s transfer, defaults, end to end", audio_run(args.device, 10.0,
                                                                         *audio_small),
                 "s", "< 3"))
    rows.append(("audio 10 s transfer, --precision bf16", audio_run(
        args.device, 10.0, "--precision", "bf16", *audio_small), "s", "-"))
    if args.long:
        rows.append(("audio 60 min, --preset fast", audio_run(
            args.device, 3600.0, "--preset", "fast", *audio_small), "s", "< 120"))
    size, its = (64, 5) if q else (512, 500)
    rows.append((f"Gatys VGG-19 {size} px x {its} iterations", gatys_run(args.device, size, its),
                 "s", "< 10"))
    rows.append(("Johnson 1920x1080 frames", johnson_fps(device, 2 if q else 60), "fps", ">= 60"))
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print(f"\nGPU check on {name}, torch {torch.__version__}\n")
    print("| run | measured | target |")
    print("|---|---|---|")
    for what, value, unit, target in rows:
        print(f"| {what} | {value:.2f} {unit} | {target} {unit if target != '-' else ''} |")
    return 0


if __name__ == "__main__":
    from results import recorded

    with recorded("gpu_check"):
        sys.exit(main())
