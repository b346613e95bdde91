"""Benchmark of the audio style-transfer pipeline (audiostyle) on 10 s of audio.

Prints a table: seconds for loading, feature/target set-up, optimisation and reconstruction;
loss evaluations per second; the optimisation's achieved GFLOP/s next to the float32 matmul
rate measured in the same run on the convolution's own GEMM shape.

    python benchmarks/bench_audio.py                       # default (reference) settings
    python benchmarks/bench_audio.py --iterations 50       # shorter
    python benchmarks/bench_audio.py --reference           # also the reference-style loop
    python benchmarks/bench_audio.py --memory              # peak RSS of a 10-minute input,
                                                           # --iterations 3, in a subprocess

``--reference`` runs the method as the authors' notebook does (conv1d + autograd, SciPy's
L-BFGS-B on a float64 NumPy copy of the variable each evaluation, same network, same start,
same iteration count), so final loss and wall time can be compared at equal settings.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from timing import matmul_gflops  # benchmarks/timing.py

from audiostyle import AudioStyleConfig, load_audio, preset_config
from audiostyle.network import RandomConvBank
from audiostyle.spectral import log_spectrogram, num_frames
from audiostyle.api import style_transfer, working_signal

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _clip(path: Path, seconds: float, out: Path) -> Path:
    """Tile an example clip to ``seconds`` and write it as 16-bit WAV."""
    data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    n = int(seconds * rate)
    reps = int(np.ceil(n / data.shape[0]))
    sf.write(str(out), np.tile(data, (reps, 1))[:n], rate, subtype="PCM_16")
    return out


def scipy_reference(content: torch.Tensor | None, style: torch.Tensor, weight: torch.Tensor,
                    x0: torch.Tensor, alpha: float, iterations: int
                    ) -> tuple[float, float, int, int]:
    """The method as the reference runs it: ``F.conv1d`` + ReLU + Gram, SciPy's L-BFGS-B (its
    defaults: 10 pairs, float64 NumPy copy of the variable every evaluation).

    Args:
        content: Content spectrogram ``(1, F, T)``, or None for texture synthesis.
        style: Style spectrogram ``(1, F, T_s)``.
        weight: Conv weight ``(filters, F, K)``.
        x0: Start ``(1, F, T)``.
        alpha: Content weight.

    Returns:
        (final loss, seconds, evaluations, iterations).
    """
    from scipy.optimize import minimize

    feats = lambda x: torch.relu(torch.nn.functional.conv1d(x, weight))  # noqa: E731
    with torch.no_grad():
        fc = feats(content) if content is not None else None
        fs = feats(style)
        gs = fs[0] @ fs[0].t() / fs.shape[-1]
    count = [0]

    def fun(v: np.ndarray) -> tuple[float, np.ndarray]:
        count[0] += 1
        x = torch.from_numpy(v.astype(np.float32)).reshape(x0.shape).requires_grad_(True)
        f = feats(x)
        g = f[0] @ f[0].t() / f.shape[-1]
        loss = ((g - gs) ** 2).sum()
        if fc is not None and alpha > 0:
            loss = loss + alpha * ((f - fc) ** 2).sum()
        loss.backward()
        return float(loss.detach()), x.grad.double().numpy().ravel()

    t = time.perf_counter()
    res = minimize(fun, x0.double().numpy().ravel(), jac=True, method="L-BFGS-B",
                   options={"maxiter": iterations})
    return float(res.fun), time.perf_counter() - t, count[0], int(res.nit)


def reference_loop(content: Path, style: Path, config: AudioStyleConfig) -> tuple[float, float, int]:
    """:func:`scipy_reference` on two files at ``config``'s settings, from the start point
    ``audiostyle`` uses. Returns (final loss, seconds, evaluations)."""

    def spec(path: Path) -> torch.Tensor:
        return log_spectrogram(working_signal(load_audio(path), config, False, "clip"),
                               config.front.n_fft, config.front.hop)

    c, s = spec(content), spec(style)
    net = RandomConvBank(config.bins, config.features.filters, config.features.kernel_widths, seed=config.seed)
    x0 = torch.randn(1, config.bins, c.shape[-1], generator=torch.Generator().manual_seed(
        config.seed)) * config.optim.init_scale
    loss, seconds, evals, _ = scipy_reference(c, s, net.weight(config.features.kernel_widths[0]), x0,
                                              config.objective.content_weight, config.optim.iterations)
    return loss, seconds, evals


def run_memory(seconds: float, iterations: int, extra: list[str]) -> None:
    """Peak RSS of ``audiostyle transfer`` on a ``seconds``-long content in a subprocess."""
    with tempfile.TemporaryDirectory() as tmp:
        content = _clip(EXAMPLES / "speech.wav", seconds, Path(tmp) / "content.wav")
        style = EXAMPLES / "music.wav"
        cmd = [sys.executable, "-m", "audiostyle", "transfer", str(content), str(style),
               "-o", str(Path(tmp) / "out.wav"), "--iterations", str(iterations), "--quiet",
               "--metrics", str(Path(tmp) / "m.json"), *extra]
        t = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - t
        peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        status = "ok" if proc.returncode == 0 else f"FAILED: {proc.stderr.strip()[-300:]}"
        print(f"| memory run: {seconds / 60:.1f}-minute content, --iterations {iterations} "
              f"{' '.join(extra)} | {status} |")
        print(f"| peak RSS | {peak_kib / 2**20:.2f} GiB |")
        print(f"| wall time | {wall:.1f} s |")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=10.0, help="content length (default 10)")
    p.add_argument("--preset", default="default", help="audiostyle preset (default: default)")
    p.add_argument("--iterations", type=int, help="override the preset's iterations")
    p.add_argument("--filters", type=int, help="override the preset's filters")
    p.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    p.add_argument("--reference", action="store_true",
                   help="also run the reference-style SciPy L-BFGS-B loop at equal settings")
    p.add_argument("--memory", action="store_true",
                   help="instead: peak memory of a 10-minute input at --iterations 3")
    p.add_argument("--memory-seconds", type=float, default=600.0)
    args, extra = p.parse_known_args()
    if args.memory:
        run_memory(args.memory_seconds, args.iterations or 3, extra)
        return

    device = torch.device(args.device)
    config = preset_config(args.preset, iterations=args.iterations, filters=args.filters)
    with tempfile.TemporaryDirectory() as tmp:
        content_path = _clip(EXAMPLES / "speech.wav", args.seconds, Path(tmp) / "content.wav")
        style_path = _clip(EXAMPLES / "music.wav", args.seconds, Path(tmp) / "style.wav")
        t = time.perf_counter()
        content, style = load_audio(content_path), load_audio(style_path)
        load_s = time.perf_counter() - t
        result = style_transfer(content, [style], config, device=device, quiet=True)
        frames = num_frames(int(args.seconds * config.front.sample_rate), config.front.hop)
        net = RandomConvBank(config.bins, config.features.filters, config.features.kernel_widths)
        flops = net.flops_per_evaluation(frames)
        opt_s = result.seconds["optimisation"]
        achieved = flops * result.evaluations / opt_s / 1e9
        k = max(config.features.kernel_widths)
        peak = matmul_gflops(config.features.filters, config.bins * k, frames - k + 1, device)
        ref = reference_loop(content_path, style_path, config) if args.reference else None

    print(f"\naudiostyle benchmark: {args.seconds:g} s content + {args.seconds:g} s style, "
          f"preset {args.preset}, {config.features.filters} filters, widths {config.features.kernel_widths}, "
          f"{config.optim.iterations} L-BFGS iterations, {config.reconstruction.griffin_lim_iters} Griffin-Lim, "
          f"device {device}, {torch.get_num_threads()} threads\n")
    print("| stage | value |")
    print("|---|---|")
    print(f"| load (decode + validate) | {load_s:.2f} s |")
    print(f"| features and targets | {result.seconds['features']:.2f} s |")
    print(f"| optimisation | {opt_s:.1f} s ({result.iterations} iterations, "
          f"{result.evaluations} evaluations) |")
    print(f"| reconstruction (Griffin-Lim) | {result.seconds['reconstruction']:.1f} s |")
    print(f"| loss evaluations / s | {result.evaluations / opt_s:.2f} |")
    print(f"| GFLOP per evaluation | {flops / 1e9:.1f} |")
    print(f"| achieved GFLOP/s (optimisation) | {achieved:.1f} |")
    print(f"| float32 matmul GFLOP/s ({config.features.filters}x{config.bins * k} @ "
          f"{config.bins * k}x{frames - k + 1}) | {peak:.1f} |")
    print(f"| achieved / matmul | {100 * achieved / peak:.0f} % |")
    print(f"| final loss (style, content) | {result.loss:.2f} ({result.terms.get('style', 0):.2f}, "
          f"{result.terms.get('content', 0):.2f}) |")
    print(f"| spectral convergence | {result.spectral_convergence:.3f} |")
    if ref is not None:
        print(f"| reference loop: final loss | {ref[0]:.2f} |")
        print(f"| reference loop: optimisation | {ref[1]:.1f} s ({ref[2]} evaluations) |")


if __name__ == "__main__":
    from results import recorded

    with recorded("bench_audio"):
        main()
