"""Feed-forward throughput: stylisation images/s at 256, 512 and 1024 px, and training steps/s.

Run ``python benchmarks/bench_feedforward.py`` (add ``--device cuda`` on a GPU, where it uses bf16
and channels-last as the tools do). Random weights are used everywhere: speed does not depend on
them, and nothing is downloaded. Prints a Markdown table.

Published reference speeds: Johnson et al. (2016), 1200x630 in 50 ms on a Pascal Titan X;
Ulyanov et al. (2016), 1024x768 in about 0.25 s.
"""

from __future__ import annotations

import argparse
import contextlib
import time
import warnings

import torch

from imagestyle.features import DEFAULT_LAYERS, build_extractor
from imagestyle.feedforward.networks import (TextureNet, TextureNetConfig, TransformNet,
                                             TransformNetConfig, run_generator)
from shared import StyleContentObjective, content_loss, select_device


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _autocast(device: torch.device) -> contextlib.AbstractContextManager:
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _timed(fn, device: torch.device, repeats: int, min_seconds: float) -> float:
    """Seconds per call of ``fn`` (after one warm-up call)."""
    fn()
    _sync(device)
    n, start = 0, time.perf_counter()
    while n < repeats or time.perf_counter() - start < min_seconds:
        fn()
        n += 1
        if n >= 10 * repeats:
            break
    _sync(device)
    return (time.perf_counter() - start) / n


def networks(width: float) -> dict[str, torch.nn.Module]:
    torch.manual_seed(0)
    return {
        f"johnson (width {width:g})": TransformNet(TransformNetConfig(width=width)),
        "texture-net (6 scales x 8 ch)": TextureNet(TextureNetConfig(mode="stylize")),
    }


def bench_stylize(net: torch.nn.Module, size: int, batch: int, device: torch.device,
                  repeats: int, min_seconds: float) -> float:
    """Images per second of stylising ``batch`` square images of side ``size``."""
    net = net.to(device).eval()
    x = torch.rand(batch, 3, size, size, device=device)
    if device.type == "cuda":
        net = net.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    gen = torch.Generator().manual_seed(0)

    def step() -> None:
        with torch.inference_mode(), _autocast(device):
            run_generator(net, x, generator=gen)

    return batch / _timed(step, device, repeats, min_seconds)


def bench_train(net: torch.nn.Module, size: int, batch: int, device: torch.device, model: str,
                repeats: int, min_seconds: float) -> float:
    """Training steps per second (generator + loss network forward/backward + Adam)."""
    layers = DEFAULT_LAYERS[model]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        extractor = build_extractor(model, list(dict.fromkeys(layers.content + layers.style)),
                                    weights="random", device=device)
    net = net.to(device).train()
    x = torch.rand(batch, 3, size, size, device=device)
    if device.type == "cuda":
        net = net.to(memory_format=torch.channels_last)
        extractor = extractor.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        style = {k: v.float() for k, v in extractor(torch.rand(1, 3, size, size, device=device)).items()}
    objective = StyleContentObjective.from_features(
        None, [style], style_layers=layers.style, gram_normalize="channels_positions",
        reduction="mean", style_weight=1e10).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(0)

    def step() -> None:
        with _autocast(device):
            y = run_generator(net, x, generator=gen)
            feats = {k: v.float() for k, v in extractor(y).items()}
            with torch.no_grad():
                target = extractor(x)
            loss = objective(feats).total + 1e5 * sum(
                content_loss(feats[n], target[n].float(), "mean") for n in layers.content)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return 1.0 / _timed(step, device, repeats, min_seconds)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024], help="stylise sizes (px)")
    p.add_argument("--batch", type=int, default=1, help="images per stylise call")
    p.add_argument("--width", type=float, default=1.0, help="Johnson width multiplier")
    p.add_argument("--train-size", type=int, default=256, help="training crop size (px)")
    p.add_argument("--train-batch", type=int, default=4, help="training batch size")
    p.add_argument("--model", default="vgg16", choices=("vgg16", "vgg19", "random-multiscale"),
                   help="loss network for the training benchmark")
    p.add_argument("--repeats", type=int, default=3, help="minimum timed calls per cell")
    p.add_argument("--min-seconds", type=float, default=1.0, help="minimum timed seconds per cell")
    args = p.parse_args(argv)
    device = select_device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU ({torch.get_num_threads()} threads)"
    precision = "bf16 autocast, channels-last" if device.type == "cuda" else "float32"
    print(f"device: {name}; {precision}; torch {torch.__version__}\n")
    header = ["network"] + [f"stylise {s} px (img/s)" for s in args.sizes] + [
        f"train {args.train_size} px x{args.train_batch}, {args.model} (steps/s)"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for label, net in networks(args.width).items():
        cells = [f"{bench_stylize(net, s, args.batch, device, args.repeats, args.min_seconds):.2f}"
                 for s in args.sizes]
        cells.append(f"{bench_train(net, args.train_size, args.train_batch, device, args.model, args.repeats, args.min_seconds):.2f}")
        print("| " + " | ".join([label] + cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
