"""Time one Gatys iteration (forward + backward) for VGG-19 and compare with the matmul rate.

One iteration is what L-BFGS pays per loss evaluation: the VGG-19 forward pass up to relu5_1,
the content and style losses (Gram matrices) and the backward pass to the pixels. The FLOP
count is analytic: each 3x3 convolution costs ``2 * C_in * C_out * 9 * H * W`` forward and as
much again backward (only the input gradient: the weights are frozen); each Gram matrix
``2 * C^2 * N`` forward and twice that backward. The achieved rate is compared with the
machine's float32 matmul rate measured on the same device.

    python benchmarks/bench_image.py                 # 256 and 512 px on the default device
    python benchmarks/bench_image.py --device cuda --sizes 256 512 1024
    python benchmarks/bench_image.py --precision bf16   # the same in bfloat16

``--compare-precision`` times whole Gatys runs instead (transfer and texture, VGG-19 with
seeded random weights and ``random-multiscale``, at each size), fp32 against bf16, and prints
one table: loss evaluations per second and the final loss. Runs alternate fp32, bf16, fp32,
bf16 (``--rounds``), so that other jobs on a shared machine slow both alike; every final image
is scored by the float32 objective (a 0-iteration run from it), so the two precisions are
compared on the same loss.

    python benchmarks/bench_image.py --compare-precision --sizes 128 256 --iterations 20
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from dataclasses import replace

import torch
import torch.nn.functional as F

from timing import matmul_gflops, sync as _sync  # benchmarks/timing.py

from imagestyle.features import DEFAULT_LAYERS, build_extractor
from imagestyle.gatys import GatysConfig, stylize, synthesize_texture, texture_config
from imagestyle.vgg import vgg_layout
from shared import StyleContentObjective, select_device


def gatys_flops(size: int, content: list[str], style: list[str], arch: str = "vgg19") -> float:
    """Analytic FLOPs of one forward + backward Gatys evaluation on a square ``size`` image."""
    layout = vgg_layout(arch)  # type: ignore[arg-type]
    conv = 0.0
    for name in layout.upto(content + style):
        if name.startswith("conv"):
            side = size // layout.stride(name)
            conv += 2 * layout.in_channels(name) * layout.channels(name) * 9 * side * side
    gram = sum(2 * layout.channels(n) ** 2 * (size // layout.stride(n)) ** 2 for n in style)
    return 2 * conv + 3 * gram  # backward: input gradient of each conv; Gram backward ~2x


def time_iteration(size: int, device: torch.device, repeats: int, precision: str = "fp32"
                   ) -> float:
    """Median seconds of one forward + backward evaluation at ``size`` px."""
    layers = DEFAULT_LAYERS["vgg19"]
    names = list(dict.fromkeys(layers.content + layers.style))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = build_extractor("vgg19", names, weights="random", device=device,
                              precision=precision)
    gen = torch.Generator().manual_seed(0)
    content = torch.rand(1, 3, size, size, generator=gen).to(device)
    style = torch.rand(1, 3, size, size, generator=gen).to(device)
    with torch.no_grad():
        objective = StyleContentObjective.from_features(
            net(content), [net(style)], content_layers=layers.content, style_layers=layers.style,
            gram_normalize="channels_positions", reduction="mean", content_weight=5,
            style_weight=100, tv_weight=1e-3,
        ).to(device)
    x = torch.rand(1, 3, size, size, generator=gen).to(device).requires_grad_(True)
    times = []
    for i in range(repeats + 1):  # the first run warms up (allocator, cuDNN autotune)
        _sync(device)
        start = time.perf_counter()
        x.grad = None
        objective(net(x), image=x).total.backward()
        _sync(device)
        if i:
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def _bench_images(size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A smooth seeded "photo" (content) and a striped noisy texture (style), ``(1, 3, s, s)``."""
    gen = torch.Generator().manual_seed(0)
    coarse = torch.rand(1, 3, max(2, size // 16), max(2, size // 16), generator=gen)
    content = F.interpolate(coarse, size=(size, size), mode="bicubic",
                            align_corners=False).clamp(0, 1)  # (1, 3, s, s)
    idx = torch.arange(size)
    stripes = ((idx[:, None] + idx[None, :]) % 12 < 6).float()  # (s, s)
    colour = torch.tensor([0.8, 0.3, 0.1]).view(1, 3, 1, 1)
    style = (0.15 + 0.7 * stripes * colour
             + 0.15 * torch.rand(1, 3, size, size, generator=gen)).clamp(0, 1)
    return content, style


def gatys_run(mode: str, model: str, size: int, precision: str, iterations: int,
              device: torch.device) -> tuple[float, float, float]:
    """One Gatys run: ``(evaluations per second, its own final loss, the float32 loss of its
    final image)``."""
    content, style = _bench_images(size)
    base = dict(model=model, weights="random", size=size, iterations=iterations, quiet=True,
                device=device, seed=0, precision=precision)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if mode == "texture":
            cfg = texture_config(**base)
            result = synthesize_texture([style], cfg)
            scored = synthesize_texture([style], replace(cfg, iterations=0, init=result.image,
                                                         precision="fp32"))
        else:
            cfg = GatysConfig(**base)
            result = stylize(content, [style], cfg)
            scored = stylize(content, [style], replace(cfg, iterations=0, init=result.image,
                                                       precision="fp32"))
    level = result.levels[-1]  # the optimisation loop's own time: no set-up, no targets
    return level.evaluations / level.seconds, result.loss, scored.loss


def compare_precision(sizes: list[int], iterations: int, rounds: int, device: torch.device,
                      models: list[str], modes: list[str]) -> None:
    """Print the fp32-vs-bf16 table of whole Gatys runs (see the module docstring)."""
    print(f"Gatys runs, {iterations} L-BFGS iterations, fp32 and bf16 alternated x {rounds}; "
          "loss = float32 objective of the final image (bf16's own loss in brackets)")
    print(f"{'mode':>8} {'features':>17} {'size':>5} {'fp32 ev/s':>10} {'bf16 ev/s':>10} "
          f"{'speed':>6} {'fp32 loss':>11} {'bf16 loss':>11} {'(own)':>11} {'diff':>7}")
    worst = 0.0
    for mode in modes:
        for model in models:
            for size in sizes:
                rates: dict[str, list[float]] = {"fp32": [], "bf16": []}
                losses: dict[str, tuple[float, float]] = {}
                for _ in range(rounds):
                    for precision in ("fp32", "bf16"):
                        rate, own, scored = gatys_run(mode, model, size, precision,
                                                      iterations, device)
                        rates[precision].append(rate)
                        losses[precision] = (own, scored)
                fp32_rate, bf16_rate = (statistics.median(rates[p]) for p in ("fp32", "bf16"))
                diff = losses["bf16"][1] / losses["fp32"][1] - 1
                worst = max(worst, abs(diff))
                print(f"{mode:>8} {model:>17} {size:>5} {fp32_rate:>10.2f} {bf16_rate:>10.2f} "
                      f"{bf16_rate / fp32_rate:>5.2f}x {losses['fp32'][1]:>11.4g} "
                      f"{losses['bf16'][1]:>11.4g} ({losses['bf16'][0]:>9.4g}) "
                      f"{100 * diff:>+6.1f}%", flush=True)
    verdict = "within" if worst <= 0.01 else "outside"
    print(f"largest |bf16 - fp32| final loss: {100 * worst:.1f}% ({verdict} the 1% bound)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512],
                        help="square image sizes in px (default: 256 512)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda (default: auto)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs (default: 3)")
    parser.add_argument("--precision", choices=("fp32", "bf16"), default="fp32",
                        help="arithmetic of the feature network (default: fp32)")
    parser.add_argument("--compare-precision", action="store_true",
                        help="time whole Gatys runs in fp32 and bf16 and compare final losses")
    parser.add_argument("--iterations", type=int, default=20,
                        help="--compare-precision: L-BFGS iterations per run (default: 20)")
    parser.add_argument("--rounds", type=int, default=2,
                        help="--compare-precision: fp32/bf16 alternations (default: 2)")
    parser.add_argument("--models", nargs="+", default=["vgg19", "random-multiscale"],
                        help="--compare-precision: feature networks (default: vgg19 "
                             "random-multiscale)")
    parser.add_argument("--modes", nargs="+", default=["transfer", "texture"],
                        choices=("transfer", "texture"),
                        help="--compare-precision: what to run (default: transfer texture)")
    args = parser.parse_args()
    device = select_device(args.device)
    name = (torch.cuda.get_device_name(device) if device.type == "cuda"
            else f"CPU, {torch.get_num_threads()} threads")
    if args.compare_precision:
        print(f"device: {name}")
        compare_precision(args.sizes, args.iterations, args.rounds, device, args.models,
                          args.modes)
        return
    n = 8192 if device.type == "cuda" else 2048
    peak = matmul_gflops(n, n, n, device)
    layers = DEFAULT_LAYERS["vgg19"]
    print(f"device: {name}; float32 matmul: {peak:.0f} GFLOP/s; features in {args.precision}")
    print(f"{'size':>6} {'ms/iter':>9} {'GFLOP/iter':>11} {'GFLOP/s':>9} {'% matmul':>9}")
    for size in args.sizes:
        seconds = time_iteration(size, device, args.repeats, args.precision)
        flops = gatys_flops(size, list(layers.content), list(layers.style))
        rate = flops / seconds / 1e9
        print(f"{size:>6} {seconds * 1e3:>9.1f} {flops / 1e9:>11.1f} {rate:>9.1f} "
              f"{100 * rate / peak:>8.1f}%")


if __name__ == "__main__":
    from results import recorded

    with recorded("bench_image"):
        main()
