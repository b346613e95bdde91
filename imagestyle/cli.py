"""``imagestyle``: image style transfer and texture synthesis from the command line.

::

    imagestyle transfer CONTENT STYLE [STYLE ...] -o OUT [options]
    imagestyle texture STYLE [STYLE ...] -o OUT [--size N | --size WxH] [options]

``--size N`` is the output's longest side with the content's (texture: the first style's)
aspect, ``--size WxH`` exactly W x H, as in every subcommand (:mod:`imagestyle.options`).

Every bad input (missing or unreadable image, unknown layer, mismatched weights, blend weights
that do not match the styles, a size too large for memory, an output that would overwrite an
input) is reported as one line on stderr with exit status 2, before any optimisation starts and
without writing any file; the library's errors name its parameters, and
:data:`imagestyle.options.FLAGS` turns those names into flags. The feed-forward methods
(``train``, ``stylize``, ``sample``, ``export``) come from :mod:`imagestyle.feedforward.cli`; the
argument grammar every subcommand shares is :mod:`imagestyle.options`.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

from shared import UserError, check_output_path
from shared.cli import ArgumentParser, sys_exit

from .features import DEFAULT_LAYERS
from .feedforward.cli import add_subcommands as add_feedforward_subcommands
from .imageio import SAVE_FORMATS, load_image, save_image
from .options import (FLAGS, MEMORY_ADVICE, add_features_option, add_precision_option, add_quiet_option,
                      add_size_option, float_list, layer_list)

if TYPE_CHECKING:
    from torch import Tensor

    from .gatys import GatysConfig

PROG = "imagestyle"


def _vgg_cached(model: str) -> bool:
    import torch

    names = {"vgg19": "vgg19-dcbb9e9d.pth", "vgg16": "vgg16-397923af.pth"}
    return (Path(torch.hub.get_dir()) / "checkpoints" / names[model]).exists()


def _resolve_features(args: argparse.Namespace, texture: bool) -> str:
    """The feature network to use: as given, else VGG-19, except for textures with no VGG
    weights at hand, which fall back to ``random-multiscale`` (needs no weights)."""
    if args.features is not None:
        return args.features
    if texture and args.weights == "imagenet" and not _vgg_cached("vgg19"):
        if not args.quiet:
            print(f"{PROG}: no cached VGG-19 weights; using --features random-multiscale "
                  "(pass --features vgg19 --weights PATH to use VGG)", file=sys.stderr)
        return "random-multiscale"
    return "vgg19"


def _check_output(output: str, inputs: Sequence[str]) -> Path:
    out = check_output_path(output, inputs)
    if out.suffix.lower() not in SAVE_FORMATS:
        raise UserError(f"{out}: unsupported output extension {out.suffix!r}; use one of "
                        f"{', '.join(sorted(SAVE_FORMATS))}")
    return out


def snapshot_path(output: Path, level: int, iteration: int, levels: int) -> Path:
    """Where the intermediate image of ``iteration`` (at coarse-to-fine ``level``) goes:
    ``OUT_0100.png``, or ``OUT_s2_0100.png`` with several levels."""
    tag = f"_s{level + 1}" if levels > 1 else ""
    return output.with_name(f"{output.stem}{tag}_{iteration:04d}{output.suffix}")


def _config(args: argparse.Namespace, features: str, init: object,
            texture: bool) -> "GatysConfig":
    """The library's :class:`~imagestyle.gatys.GatysConfig` from the parsed options."""
    from .gatys import GatysConfig

    content_layers, content_w = (None, None) if texture else (args.content_layers or (None, None))
    style_layers, style_w = args.style_layers or (None, None)
    blend = args.style_weights
    if blend is not None and len(blend) != len(args.style):
        raise UserError(f"--style-weights has {len(blend)} weights for {len(args.style)} style "
                        "images; give one per style")
    return GatysConfig(
        model=features, weights=args.weights, pooling=args.pooling, preprocess=args.preprocess,
        content_layers=content_layers, style_layers=style_layers,
        content_layer_weights=content_w, style_layer_weights=style_w,
        content_weight=0.0 if texture else args.content_weight, style_weight=args.style_weight,
        tv_weight=args.tv_weight, style_blend_weights=blend, style_scale=args.style_scale,
        size=args.size, scales=args.scales, iterations=args.iterations, optimizer=args.optimizer,
        lr=args.lr, line_search=None if args.line_search == "none" else args.line_search,
        init=init, preserve_color=args.preserve_color, seed=args.seed,
        device=args.device, precision=args.precision, quiet=args.quiet,
    )


def _run(args: argparse.Namespace, texture: bool) -> int:
    from .gatys import stylize, synthesize_texture

    inputs = list(args.style) + ([] if texture else [args.content])
    init_path = None if args.init in ("noise", "content") else args.init
    output = _check_output(args.output, inputs + ([init_path] if init_path else []))
    if args.save_every < 0:
        raise UserError(f"--save-every must be >= 0, got {args.save_every}")
    # Read every input before any heavy work, so a bad file fails at once.
    styles = [load_image(p) for p in args.style]
    content = None if texture else load_image(args.content)
    init: object = args.init
    if init_path is not None:
        init = load_image(init_path)
    features = _resolve_features(args, texture)
    config = _config(args, features, init, texture)
    levels = max(1, args.scales)

    def snapshot(level: int, iteration: int, image: "Tensor") -> None:
        save_image(image, snapshot_path(output, level, iteration, levels))

    start = time.perf_counter()
    kwargs: dict[str, object] = dict(snapshot=snapshot if args.save_every else None,
                                     snapshot_every=args.save_every)
    if texture:
        result = synthesize_texture(styles, config, **kwargs)  # type: ignore[arg-type]
    else:
        assert content is not None
        result = stylize(content, styles, config, **kwargs)  # type: ignore[arg-type]
    save_image(result.image, output)
    last = result.levels[-1] if result.levels else None
    interrupted = bool(last and last.interrupted)
    if not args.quiet or interrupted:
        h, w = result.image.shape[-2:]
        note = "interrupted; wrote the best result so far to" if interrupted else "wrote"
        iters = sum(r.iterations for r in result.levels)
        print(f"{PROG}: {note} {output} ({w}x{h}, {features}, loss {result.loss:.4g}, "
              f"{iters} iterations, {time.perf_counter() - start:.1f} s)", file=sys.stderr)
    return 130 if interrupted else 0


def transfer_command(args: argparse.Namespace) -> int:
    """Handler of ``imagestyle transfer``."""
    return _run(args, texture=False)


def texture_command(args: argparse.Namespace) -> int:
    """Handler of ``imagestyle texture``."""
    return _run(args, texture=True)


def _layer_help(kind: str) -> str:
    lines = [f"{m}: {','.join(getattr(d, kind))}" for m, d in DEFAULT_LAYERS.items()]
    text = "; ".join(lines)
    if kind == "style":
        text += " (random-multiscale: only scales up to 1/4 of the style image's short side)"
    return text


def _add_common(p: argparse.ArgumentParser, texture: bool) -> None:
    """The options ``transfer`` and ``texture`` share, in four groups."""
    _add_network_options(p.add_argument_group("feature network"), texture)
    _add_loss_options(p.add_argument_group("loss"), texture)
    _add_optimisation_options(p.add_argument_group("optimisation"), texture)
    _add_output_options(p.add_argument_group("output"), texture)


def _add_network_options(net: argparse._ArgumentGroup, texture: bool) -> None:
    add_features_option(net, "vgg19" + ("; random-multiscale when no VGG-19 weights are cached "
                                        "and --weights is imagenet" if texture else ""))
    net.add_argument("--weights", default="imagenet", metavar="imagenet|random|PATH",
                     help="VGG weights: torchvision's ImageNet weights (downloaded and cached on "
                          "first use), seeded random weights (smoke tests only), or a .pth file "
                          "in torchvision's or the Caffe-converted layout (default: imagenet)")
    net.add_argument("--pooling", choices=("max", "avg"), default="max",
                     help="VGG pooling (default: max)")
    net.add_argument("--preprocess", choices=("torchvision", "caffe"), default=None,
                     help="input convention (default: chosen from the weights)")


def _add_loss_options(loss: argparse._ArgumentGroup, texture: bool) -> None:
    if not texture:
        loss.add_argument("--content-layers", type=layer_list, default=None, metavar="L[:W],...",
                          help="content layers with optional weights (default: "
                               f"{_layer_help('content')})")
        loss.add_argument("--content-weight", type=float, default=5.0,
                          help="content weight, on neural-style's scale (default: 5)")
    loss.add_argument("--style-layers", type=layer_list, default=None, metavar="L[:W],...",
                      help="style layers with optional weights, e.g. relu1_1:0.5,relu2_1 "
                           f"(default: {_layer_help('style')})")
    loss.add_argument("--style-weight", type=float, default=100.0,
                      help="style weight, on neural-style's scale (default: 100)")
    tv = 0.0 if texture else 1e-3
    loss.add_argument("--tv-weight", type=float, default=tv,
                      help=f"total-variation weight (default: {tv:g})")
    loss.add_argument("--style-weights", type=float_list, default=None, metavar="W1,W2,...",
                      help="blend weights of several style images, normalised to sum to 1 "
                           "(default: equal)")
    loss.add_argument("--style-scale", type=float, default=1.0,
                      help="style images' longest side relative to the output's (default: 1)")


def _add_optimisation_options(opt: argparse._ArgumentGroup, texture: bool) -> None:
    iterations = 500 if texture else 1000
    opt.add_argument("--iterations", type=int, default=iterations,
                     help=f"iterations per scale (default: {iterations})")
    opt.add_argument("--optimizer", choices=("lbfgs", "adam"), default="lbfgs",
                     help="optimiser (default: lbfgs)")
    opt.add_argument("--line-search", choices=("strong_wolfe", "none"), default="strong_wolfe",
                     help="L-BFGS line search; none is neural-style's fixed step, which "
                          "converges far slower here (default: strong_wolfe)")
    opt.add_argument("--lr", type=float, default=None,
                     help="step size (default: 1 for L-BFGS, 10/255 for Adam)")
    opt.add_argument("--init", default="noise",
                     metavar="noise|PATH" if texture else "noise|content|PATH",
                     help="starting image (default: noise)")
    opt.add_argument("--scales", type=int, default=1,
                     help="coarse-to-fine levels, each twice the size of the previous; the "
                          "result of one starts the next (default: 1)")
    opt.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    opt.add_argument("--device", default="auto",
                     help="auto, cpu, cuda or cuda:N (default: auto = CUDA when present)")
    add_precision_option(opt)


def _add_output_options(out: argparse._ArgumentGroup, texture: bool) -> None:
    out.add_argument("-o", "--output", required=True,
                     help="output image; format from the extension (png, jpg, ...)")
    if texture:
        add_size_option(out, "the first style image", 256)
    else:
        add_size_option(out, "the content image", 512)
    colour = ("; for textures: luminance takes the colours of --init PATH, histogram gives all "
              "styles the first style's colours" if texture else "")
    out.add_argument("--preserve-color", choices=("luminance", "histogram"), default=None,
                     help="keep the content's colours: transfer on luminance only, or match the "
                          f"styles' colour histogram to the content first{colour} (default: off)")
    out.add_argument("--save-every", type=int, default=0, metavar="N",
                     help="also save the image every N iterations as OUT_0100.png "
                          "(OUT_s2_0100.png with --scales) (default: 0 = never)")
    add_quiet_option(out)


def build_parser() -> argparse.ArgumentParser:
    """The ``imagestyle`` argument parser: ``transfer``, ``texture`` and the feed-forward
    subcommands."""
    parser = ArgumentParser(
        prog=PROG, description="Neural style transfer and texture synthesis for images.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    t = subparsers.add_parser(
        "transfer", help="style transfer by optimisation (Gatys et al. 2016)",
        description="Style transfer by optimising the pixels (Gatys et al. 2016) with "
                    "jcjohnson/neural-style's defaults.")
    t.add_argument("content", help="content image")
    t.add_argument("style", nargs="+", help="style image(s)")
    _add_common(t, texture=False)
    t.set_defaults(func=transfer_command)
    x = subparsers.add_parser(
        "texture", help="texture synthesis by optimisation (Gatys et al. 2015)",
        description="Texture synthesis: match the styles' Gram matrices from noise (Gatys et al. "
                    "2015; random-multiscale: Ustyuzhaninov et al. 2017).")
    x.add_argument("style", nargs="+", help="source texture image(s)")
    _add_common(x, texture=True)
    x.set_defaults(func=texture_command)
    add_feedforward_subcommands(subparsers)
    return parser


@sys_exit(PROG, FLAGS, memory_advice=MEMORY_ADVICE)
def main(argv: Sequence[str] | None = None) -> int:
    """Run ``imagestyle`` with ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    args = build_parser().parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    return func(args)
