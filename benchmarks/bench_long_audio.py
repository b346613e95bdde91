"""Memory and time of long audio: peak RSS and wall time of the CLI for 1, 10 and 60 minutes.

Each run is ``audiostyle transfer CONTENT STYLE -o OUT --preset P`` (or ``texture``) in a
fresh process, measured from outside (``/usr/bin/time``-style: the child's peak resident set
size from ``getrusage``). The content is 44.1 kHz stereo 16-bit PCM made by tiling the
repository's example recordings with varying gains (so it is not silence and not one loop
of a few frames), the style a 30-minute file made the same way.

    python benchmarks/bench_long_audio.py                       # 1, 10, 60 min, preset fast
    python benchmarks/bench_long_audio.py --minutes 1,10 --iterations 2 --griffin-lim-iters 5

``--iterations`` and ``--griffin-lim-iters`` override the preset to measure memory and the
growth of time with length in minutes instead of hours on a small machine: memory does not
depend on them (one window at a time), time scales with them. The table gives the time per
minute of content and its ratio to the shortest run's.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path("/tmp/styletoolkit_media")
RATE = 44100


def tiled(path: Path, minutes: float, seed: int) -> Path:
    """A ``minutes``-long 44.1 kHz stereo file of the example clips, tiled with random gains
    and offsets, written block by block (cached)."""
    if path.exists():
        return path
    rng = np.random.default_rng(seed)
    clips = []
    for name in ("music.wav", "speech.wav"):
        data, rate = sf.read(str(ROOT / "examples" / name), dtype="float32")
        up = np.interp(np.arange(0, len(data), rate / RATE), np.arange(len(data)), data)
        clips.append(up.astype(np.float32))
    total = int(minutes * 60 * RATE)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part.wav")
    with sf.SoundFile(str(tmp), "w", RATE, 2, "PCM_16") as out:
        done = 0
        while done < total:
            clip = clips[int(rng.integers(len(clips)))]
            start = int(rng.integers(len(clip) // 2))
            piece = clip[start:][: total - done] * rng.uniform(0.3, 1.0)
            out.write(np.stack([piece, piece * rng.uniform(0.6, 1.0)], axis=1))
            done += len(piece)
    tmp.rename(path)
    return path


def measure(argv: list[str]) -> tuple[float, float, int]:
    """Run ``python -m audiostyle ARGV`` in a child of a fresh process; returns its wall
    time, peak RSS in GB and exit status."""
    probe = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
             "r = subprocess.run(sys.argv[1:]).returncode; "
             "print(time.perf_counter() - t, "
             "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, r)")
    out = subprocess.run([sys.executable, "-c", probe, sys.executable, "-m", "audiostyle",
                          *argv], capture_output=True, text=True)
    last = out.stdout.strip().splitlines()[-1].split()
    if int(last[2]) != 0:
        print(out.stderr[-2000:], file=sys.stderr)
    return float(last[0]), int(last[1]) / 2**20, int(last[2])


def sweep_windows(windows: list[int], filters: int, iterations: int) -> None:
    """The window length's effect on quality and time: one minute of the tiled content, the
    example music as style, the default preset at ``filters`` and ``iterations``, each
    window length (in frames) side by side; held-out style and content distances
    (:mod:`audiostyle.quality`) of the written result."""
    import torch

    from audiostyle import load_audio, preset_config, style_transfer
    from audiostyle.quality import content_distance, heldout_style_distance
    from audiostyle.windows import plan_windows

    content = load_audio(tiled(CACHE / "long_content_1min.wav", 1.0, 2))
    style = load_audio(ROOT / "examples" / "music.wav")
    torch.set_num_threads(2)
    print(f"window sweep: 1 min content, examples/music.wav style, {filters} filters, "
          f"{iterations} iterations, 100 Griffin-Lim; {time.strftime('%Y-%m-%d %H:%M')}")
    print("| window (frames) | seconds | windows | held-out style | content distance | wall (s) |")
    print("|---|---|---|---|---|---|")
    for w in windows:
        cfg = preset_config("default", filters=filters, iterations=iterations,
                            griffin_lim_iters=100, window_frames=w)
        t0 = time.perf_counter()
        result = style_transfer(content, [style], cfg, device="cpu")
        wall = time.perf_counter() - t0
        frames = result.spectrogram.shape[-1]
        n = len(plan_windows(frames, w, cfg.overlap))
        style_d = heldout_style_distance(result.waveform, [style.samples], result.sample_rate,
                                         style_rates=[style.sample_rate])
        content_d = content_distance(result.waveform, content.samples, result.sample_rate)
        print(f"| {w} | {w * cfg.front.hop / cfg.front.sample_rate:.1f} | {n} | {style_d:.3f} | "
              f"{content_d:.3f} | {wall:.0f} |", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", default="1,10,60", help="content lengths (default: %(default)s)")
    ap.add_argument("--style-minutes", type=float, default=30.0)
    ap.add_argument("--preset", default="fast", choices=("fast", "default", "best"))
    ap.add_argument("--iterations", type=int, help="override the preset's iterations")
    ap.add_argument("--griffin-lim-iters", type=int, help="override the preset's")
    ap.add_argument("--mode", default="transfer", choices=("transfer", "texture"))
    ap.add_argument("--sweep-windows", help="instead: window lengths in frames to compare, "
                    "e.g. 256,512,1024,2048,4096")
    ap.add_argument("--sweep-filters", type=int, default=512)
    ap.add_argument("--sweep-iterations", type=int, default=50)
    args = ap.parse_args()
    if args.sweep_windows:
        sweep_windows([int(w) for w in args.sweep_windows.split(",")], args.sweep_filters,
                      args.sweep_iterations)
        return
    style = tiled(CACHE / f"long_style_{args.style_minutes:g}min.wav", args.style_minutes, 1)
    extra = ["--preset", args.preset, "--quiet", "--device", "cpu"]
    if args.iterations is not None:
        extra += ["--iterations", str(args.iterations)]
    if args.griffin_lim_iters is not None:
        extra += ["--griffin-lim-iters", str(args.griffin_lim_iters)]
    print(f"{args.mode}, preset {args.preset}"
          f"{'' if args.iterations is None else f', {args.iterations} iterations'}"
          f"{'' if args.griffin_lim_iters is None else f', {args.griffin_lim_iters} GL'}; "
          f"style {args.style_minutes:g} min 44.1 kHz stereo; {time.strftime('%Y-%m-%d %H:%M')}")
    print(f"| content (min) | peak RSS (GB) | wall (s) | s per content minute | ratio |")
    print("|---|---|---|---|---|")
    first = None
    for minutes in [float(m) for m in args.minutes.split(",")]:
        out = Path("/tmp") / f"bench_long_{minutes:g}.wav"
        if args.mode == "transfer":
            content = tiled(CACHE / f"long_content_{minutes:g}min.wav", minutes, 2)
            argv = ["transfer", str(content), str(style)]
        else:
            argv = ["texture", str(style), "--seconds", str(minutes * 60)]
        wall, rss, code = measure([*argv, "-o", str(out), *extra])
        per = wall / minutes
        first = first or per
        status = "" if code == 0 else f" (exit {code})"
        print(f"| {minutes:g} | {rss:.2f} | {wall:.0f}{status} | {per:.1f} | {per / first:.2f} |",
              flush=True)


if __name__ == "__main__":
    from results import recorded

    with recorded("bench_long_audio"):
        main()
