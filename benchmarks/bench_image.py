"""Time one Gatys iteration (forward + backward) for VGG-19 and compare with the matmul rate.

One iteration is what L-BFGS pays per loss evaluation: the VGG-19 forward pass up to relu5_1,
the content and style losses (Gram matrices) and the backward pass to the pixels. The FLOP
count is analytic: each 3x3 convolution costs ``2 * C_in * C_out * 9 * H * W`` forward and as
much again backward (only the input gradient: the weights are frozen); each Gram matrix
``2 * C^2 * N`` forward and twice that backward. The achieved rate is compared with the
machine's float32 matmul rate measured on the same device.

    python benchmarks/bench_image.py                 # 256 and 512 px on the default device
    python benchmarks/bench_image.py --device cuda --sizes 256 512 1024
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import torch

from timing import matmul_gflops, sync as _sync  # benchmarks/timing.py

from imagestyle.features import DEFAULT_LAYERS, build_extractor
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


def time_iteration(size: int, device: torch.device, repeats: int) -> float:
    """Median seconds of one forward + backward evaluation at ``size`` px."""
    layers = DEFAULT_LAYERS["vgg19"]
    names = list(dict.fromkeys(layers.content + layers.style))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = build_extractor("vgg19", names, weights="random", device=device)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512],
                        help="square image sizes in px (default: 256 512)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda (default: auto)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs (default: 3)")
    args = parser.parse_args()
    device = select_device(args.device)
    name = (torch.cuda.get_device_name(device) if device.type == "cuda"
            else f"CPU, {torch.get_num_threads()} threads")
    n = 8192 if device.type == "cuda" else 2048
    peak = matmul_gflops(n, n, n, device)
    layers = DEFAULT_LAYERS["vgg19"]
    print(f"device: {name}; float32 matmul: {peak:.0f} GFLOP/s")
    print(f"{'size':>6} {'ms/iter':>9} {'GFLOP/iter':>11} {'GFLOP/s':>9} {'% matmul':>9}")
    for size in args.sizes:
        seconds = time_iteration(size, device, args.repeats)
        flops = gatys_flops(size, list(layers.content), list(layers.style))
        rate = flops / seconds / 1e9
        print(f"{size:>6} {seconds * 1e3:>9.1f} {flops / 1e9:>11.1f} {rate:>9.1f} "
              f"{100 * rate / peak:>8.1f}%")


if __name__ == "__main__":
    main()
