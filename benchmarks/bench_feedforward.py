"""Feed-forward throughput: stylisation images/s at 256, 512 and 1024 px, and training steps/s.

Run ``python benchmarks/bench_feedforward.py`` (add ``--device cuda`` on a GPU, where it uses bf16
and channels-last as the tools do). Random weights are used everywhere: speed does not depend on
them, and nothing is downloaded. Prints a Markdown table.

Published reference speeds: Johnson et al. (2016), 1200x630 in 50 ms on a Pascal Titan X;
Ulyanov et al. (2016), 1024x768 in about 0.25 s.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import torch

from timing import sync  # benchmarks/timing.py

from imagestyle.features import DEFAULT_LAYERS, MODELS, build_extractor
from imagestyle.feedforward.modelfile import load_model
from imagestyle.feedforward.networks import build_network, generator_mode, network_config, run_generator
from shared import StyleContentObjective, autocast, select_device


def _timed(fn, device: torch.device, repeats: int, min_seconds: float) -> float:
    """Seconds per call of ``fn`` (after one warm-up call)."""
    fn()
    sync(device)
    n, start = 0, time.perf_counter()
    while n < repeats or time.perf_counter() - start < min_seconds:
        fn()
        n += 1
        if n >= 10 * repeats:
            break
    sync(device)
    return (time.perf_counter() - start) / n


def networks(width: float, model: str | None = None) -> dict[str, tuple[str, dict]]:
    """``{label: (arch, network config)}``: a trained model file's architecture, or the default
    Johnson net (``width``) and texture network. Every network is built by ``build_network``."""
    if model is not None:
        net, info = load_model(model)
        return {f"{Path(model).name} ({info.arch}, {info.mode})": (info.arch, network_config(net))}
    return {
        f"johnson (width {width:g})": ("johnson", {"width": width}),
        "texture-net (6 scales x 8 ch)": ("texture-net", {"mode": "stylize"}),
    }


def _on_device(net: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    net = net.to(device)
    return net.to(memory_format=torch.channels_last) if device.type == "cuda" else net


def _images(batch: int, size: int, device: torch.device) -> torch.Tensor:
    x = torch.rand(batch, 3, size, size, device=device)
    return x.contiguous(memory_format=torch.channels_last) if device.type == "cuda" else x


def _generate(net: torch.nn.Module, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Stylise ``x`` ``(B, 3, S, S)``, or sample a texture of its size with a texture model."""
    if generator_mode(net) == "texture":
        b, _, h, w = x.shape
        noise = torch.randn(net.noise_shape(b, h, w), generator=gen).to(x)  # type: ignore[operator]
        return run_generator(net, noise=noise)
    return run_generator(net, x, generator=gen)


def bench_stylize(net: torch.nn.Module, size: int, batch: int, device: torch.device,
                  repeats: int, min_seconds: float) -> float:
    """Images per second of stylising (or, for a texture model, sampling) ``batch`` square
    images of side ``size``."""
    net = _on_device(net, device).eval()
    x = _images(batch, size, device)
    gen = torch.Generator().manual_seed(0)

    def step() -> None:
        with torch.inference_mode(), autocast(device, "bf16"):
            _generate(net, x, gen)

    return batch / _timed(step, device, repeats, min_seconds)


def bench_train(net: torch.nn.Module, size: int, batch: int, device: torch.device,
                features: str, repeats: int, min_seconds: float) -> float:
    """Training steps per second (generator + loss network forward/backward + Adam), with the
    objective used as training uses it (content targets given per batch)."""
    layers = DEFAULT_LAYERS[features]
    content_layers = list(layers.content) if generator_mode(net) == "stylize" else []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        extractor = build_extractor(features, list(dict.fromkeys(content_layers + list(layers.style))),
                                    weights="random", device=device)
    net = _on_device(net, device).train()
    extractor = _on_device(extractor, device)
    x = _images(batch, size, device)
    with torch.no_grad():
        style = {k: v.float() for k, v in extractor(torch.rand(1, 3, size, size, device=device)).items()}
    objective = StyleContentObjective.from_features(
        None, [style], content_layers=content_layers, style_layers=layers.style,
        gram_normalize="channels_positions", reduction="mean", content_weight=1e5,
        style_weight=1e10).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(0)

    def step() -> None:
        with autocast(device, "bf16"):
            y = _generate(net, x, gen)
            feats = {k: v.float() for k, v in extractor(y).items()}
            targets = None
            if content_layers:
                with torch.no_grad():
                    targets = {k: v.float() for k, v in extractor(x).items()}
            loss = objective(feats, content_targets=targets).total
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return 1.0 / _timed(step, device, repeats, min_seconds)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--model", metavar="MODEL.pt", default=None,
                   help="a trained model file (as in imagestyle stylize): time its "
                        "architecture instead of the default Johnson and texture networks "
                        "(the weights do not change the speed)")
    p.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024], help="stylise sizes (px)")
    p.add_argument("--batch", type=int, default=1, help="images per stylise call")
    p.add_argument("--width", type=float, default=1.0, help="Johnson width multiplier")
    p.add_argument("--train-size", type=int, default=256, help="training crop size (px)")
    p.add_argument("--train-batch", type=int, default=4, help="training batch size")
    p.add_argument("--features", default="vgg16", choices=MODELS,
                   help="feature (loss) network of the training benchmark, as in imagestyle train")
    p.add_argument("--repeats", type=int, default=3, help="minimum timed calls per cell")
    p.add_argument("--min-seconds", type=float, default=1.0, help="minimum timed seconds per cell")
    args = p.parse_args(argv)
    device = select_device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU ({torch.get_num_threads()} threads)"
    precision = "bf16 autocast, channels-last" if device.type == "cuda" else "float32"
    print(f"device: {name}; {precision}; torch {torch.__version__}\n")
    header = ["network"] + [f"stylise {s} px (img/s)" for s in args.sizes] + [
        f"train {args.train_size} px x{args.train_batch}, {args.features} (steps/s)"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for label, (arch, config) in networks(args.width, args.model).items():
        torch.manual_seed(0)
        cells = [f"{bench_stylize(build_network(arch, config), s, args.batch, device, args.repeats, args.min_seconds):.2f}"
                 for s in args.sizes]
        torch.manual_seed(0)
        cells.append(f"{bench_train(build_network(arch, config), args.train_size, args.train_batch, device, args.features, args.repeats, args.min_seconds):.2f}")
        print("| " + " | ".join([label] + cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    from results import recorded

    with recorded("bench_feedforward"):
        raise SystemExit(main())
