"""The ``train``, ``stylize``, ``sample`` and ``export`` subcommands of ``imagestyle``.

:func:`add_subcommands` adds them to the parser that :mod:`imagestyle.cli` builds, with the
argument grammar of :mod:`imagestyle.options`; each handler takes the parsed arguments, fills the
library's settings and returns an exit status. The library raises ``ValueError`` naming its
parameters, which the CLI's ``sys_exit`` wrapper prints as one line naming the flags.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any, Optional

from shared import UserError, select_device

from ..options import (FLAGS, MEMORY_ADVICE, HelpFormatter, add_features_option, add_quiet_option,
                       add_size_option, layer_list, nonneg_int, positive_int)

EXIT_INTERRUPTED = 130
FORMAT = HelpFormatter
PROG = "imagestyle"
RENAMED = {  # train's old spellings -> the flags every subcommand uses now
    "--out": "-o/--output (as in every other subcommand)",
    "--style": "positional STYLE arguments (imagestyle train STYLE [STYLE ...] -o MODEL.pt)",
    "--scales": "--pyramid-scales (--scales means coarse-to-fine levels in transfer and texture)",
}


class _Renamed(argparse.Action):
    """A removed spelling: using it is a one-line error naming the new one."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: Optional[str] = None) -> None:
        raise UserError(f"train {option_string} was renamed: use {RENAMED[str(option_string)]}")


def add_subcommands(subparsers: Any) -> None:
    """Add ``train``, ``stylize``, ``sample`` and ``export`` to an argparse subparsers object."""
    _add_train(subparsers)
    _add_stylize(subparsers)
    _add_sample(subparsers)
    _add_export(subparsers)


def _add_train(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "train", formatter_class=FORMAT,
        help="train a feed-forward stylisation or texture network (Johnson et al.; Ulyanov et al.)",
        description="Train a generator once per style: a Johnson transform net or an Ulyanov "
                    "texture network. Works under torchrun for multi-GPU / multi-node training.")
    g = p.add_argument_group("what to train")
    g.add_argument("style", nargs="+", metavar="STYLE",
                   help="style image(s); several are blended with equal weights")
    g.add_argument("-o", "--output", required=True, metavar="MODEL.pt",
                   help="model file to write (at every checkpoint and at the end)")
    g.add_argument("--arch", choices=("johnson", "texture-net"), default="johnson",
                   help="generator architecture")
    g.add_argument("--mode", choices=("stylize", "texture"), default="stylize",
                   help="stylize: photo -> stylised photo; texture: noise -> texture (texture-net only)")
    g.add_argument("--dataset", metavar="DIR",
                   help="folder of training photos, searched recursively (stylize mode; e.g. MS-COCO)")
    for old in RENAMED:
        g.add_argument(old, nargs="*", action=_Renamed, dest=f"renamed{old}",
                       default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    _add_train_length(p.add_argument_group("training"))
    _add_train_loss(p.add_argument_group("loss"))
    g = p.add_argument_group("network")
    g.add_argument("--norm", choices=("instance", "batch"), default=None,
                   help="normalisation (default: instance for johnson, batch for texture-net)")
    g.add_argument("--width", type=float, default=1.0, help="johnson: channel width multiplier")
    g.add_argument("--pyramid-scales", type=positive_int, default=6,
                   help="texture-net: pyramid levels, each half the previous resolution")
    g.add_argument("--channels", type=positive_int, default=8, help="texture-net: channels per scale")
    _add_train_running(p.add_argument_group("checkpoints and running"))
    p.set_defaults(func=train_command)


def _add_train_length(g: Any) -> None:
    from .config import DEFAULT_EPOCHS, DEFAULT_TEXTURE_STEPS

    g.add_argument("--image-size", type=positive_int, default=256, help="training crop side (px)")
    g.add_argument("--style-size", type=positive_int, default=None,
                   help="longest side of the style images (default: --image-size)")
    g.add_argument("--batch-size", type=positive_int, default=4, help="images per step per process")
    length = g.add_mutually_exclusive_group()
    length.add_argument("--steps", type=positive_int, default=None,
                        help=f"optimiser steps (default: {DEFAULT_EPOCHS} epochs in stylize mode, "
                             f"{DEFAULT_TEXTURE_STEPS} steps in texture mode)")
    length.add_argument("--epochs", type=positive_int, default=None, help="passes over the dataset")
    g.add_argument("--lr", type=float, default=1e-3,
                   help="Adam learning rate (Ulyanov et al. used 1e-1 with batch 16 in texture mode)")
    g.add_argument("--seed", type=int, default=0, help="seed of weights, data order, crops and noise")


def _add_train_loss(g: Any) -> None:
    from .config import DEFAULT_CONTENT_WEIGHT, DEFAULT_STYLE_WEIGHT, DEFAULT_TV_WEIGHT

    g.add_argument("--content-weight", type=float, default=DEFAULT_CONTENT_WEIGHT,
                   help="content weight, on the plain mean-squared feature loss as in "
                        "pytorch/examples (default: %(default)g; transfer's weights are on "
                        "neural-style's scale instead)")
    g.add_argument("--style-weight", type=float, default=DEFAULT_STYLE_WEIGHT,
                   help="style weight, on the plain mean-squared Gram loss (default: %(default)g)")
    g.add_argument("--tv-weight", type=float, default=DEFAULT_TV_WEIGHT,
                   help="total-variation weight (default: %(default)g)")
    g.add_argument("--content-layers", type=layer_list, default=None, metavar="L[:W],...",
                   help="content layers with optional weights (default: the feature network's, "
                        "e.g. relu3_3 for vgg16)")
    g.add_argument("--style-layers", type=layer_list, default=None, metavar="L[:W],...",
                   help="style layers with optional weights, e.g. relu1_2:2,relu2_2 (default: "
                        "the feature network's)")
    add_features_option(g, "vgg16 for johnson, vgg19 for texture-net")
    g.add_argument("--weights", default="imagenet",
                   help="VGG weights: imagenet, random (tests only) or a .pth file")


def _add_train_running(g: Any) -> None:
    g.add_argument("--checkpoint", metavar="PATH", default=None,
                   help="checkpoint file (default: MODEL.pt.ckpt)")
    g.add_argument("--checkpoint-every", type=nonneg_int, default=1000,
                   help="steps between checkpoints; 0: only at the end (and on Ctrl-C)")
    g.add_argument("--resume", action="store_true", help="continue from the checkpoint")
    g.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    g.add_argument("--workers", type=nonneg_int, default=0, help="data-loader worker processes")
    add_quiet_option(g)


def _add_stylize(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "stylize", formatter_class=FORMAT, help="stylise images with a trained model (one forward pass)",
        description="Stylise photos of any size with a trained stylisation model; outputs keep "
                    "the inputs' sizes. Ctrl-C keeps the images already written (exit 130).")
    p.add_argument("--model", required=True, metavar="MODEL.pt", help="trained stylisation model")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="input image(s)")
    p.add_argument("-o", "--output", required=True, metavar="OUT",
                   help="output file for one input; output folder (made if missing) for several")
    add_size_option(p, "each input", None, "each input's own size")
    p.add_argument("--preserve-color", choices=("luminance",), default=None,
                   help="keep the input's colours (luminance-only transfer)")
    p.add_argument("--batch-size", type=positive_int, default=4, help="images per forward pass")
    p.add_argument("--seed", type=int, default=0, help="noise seed (texture-net models)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    add_quiet_option(p)
    p.set_defaults(func=stylize_command)


def _add_sample(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "sample", formatter_class=FORMAT, help="sample textures from a trained texture model",
        description="Draw new variations of a texture from a texture-mode texture network.")
    p.add_argument("--model", required=True, metavar="TEXTURE_MODEL.pt", help="trained texture model")
    p.add_argument("-o", "--output", required=True, metavar="OUT.png",
                   help="output image; with --count N > 1, OUT_001.png ... OUT_N.png")
    add_size_option(p, "the training size: square", None, "the training size")
    p.add_argument("--seed", type=int, default=0, help="seed of the noise")
    p.add_argument("--count", type=positive_int, default=1, help="number of samples")
    p.add_argument("--batch-size", type=positive_int, default=4, help="samples per forward pass")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    add_quiet_option(p)
    p.set_defaults(func=sample_command)


def _add_export(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "export", formatter_class=FORMAT, help="export a trained model to TorchScript or ONNX",
        description="Export a model; the exported file is checked against PyTorch on a test input.")
    p.add_argument("--model", required=True, metavar="MODEL.pt", help="trained model")
    p.add_argument("--format", choices=("torchscript", "onnx"), required=True,
                   help="torchscript, or onnx (needs onnx, onnxruntime, onnxscript)")
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="file to write")
    add_quiet_option(p)
    p.set_defaults(func=export_command)


def train_command(args: argparse.Namespace) -> int:
    """``imagestyle train``: train, then one summary line (always when interrupted)."""
    from .train import TrainConfig, train

    content_layers, content_w = args.content_layers or (None, None)
    style_layers, style_w = args.style_layers or (None, None)
    config = TrainConfig(
        styles=list(args.style), out=args.output, arch=args.arch, mode=args.mode,
        dataset=args.dataset, image_size=args.image_size, style_size=args.style_size,
        batch_size=args.batch_size, steps=args.steps, epochs=args.epochs, lr=args.lr,
        content_weight=args.content_weight, style_weight=args.style_weight,
        tv_weight=args.tv_weight, content_layers=content_layers, style_layers=style_layers,
        content_layer_weights=content_w, style_layer_weights=style_w, model=args.features,
        weights=args.weights, norm=args.norm, width=args.width,
        pyramid_scales=args.pyramid_scales, channels=args.channels,
        checkpoint=args.checkpoint, checkpoint_every=args.checkpoint_every, seed=args.seed,
        device=args.device, workers=args.workers, quiet=args.quiet, resume=args.resume,
    )
    try:
        result = train(config)
    except KeyboardInterrupt:  # a second Ctrl-C: every write is atomic, so nothing is partial
        ckpt = Path(config.checkpoint or f"{config.out}.ckpt")
        kept = (f"the last checkpoint is intact at {ckpt}" if ckpt.exists()
                else "no model written")
        print(f"{PROG}: interrupted; {kept}", file=sys.stderr)
        return EXIT_INTERRUPTED
    if result.rank == 0 and (result.interrupted or not args.quiet):
        loss = f", loss {result.losses[-1]['total']:.4g}" if result.losses else ""
        note = ("interrupted; wrote the model so far to" if result.interrupted else "wrote")
        print(f"{PROG}: {note} {result.model_path} (step {result.step}/{result.total_steps}"
              f"{loss}, {result.seconds:.1f} s; checkpoint {result.checkpoint_path})",
              file=sys.stderr)
    return EXIT_INTERRUPTED if result.interrupted else 0


def stylize_command(args: argparse.Namespace) -> int:
    """``imagestyle stylize``: stylise, then one summary line (always when interrupted)."""
    from .stylize import StylizeInterrupted, stylize_files

    start = time.perf_counter()
    try:
        paths = stylize_files(args.model, args.inputs, args.output, size=args.size,
                              preserve_color=args.preserve_color, batch_size=args.batch_size,
                              device=select_device(args.device), seed=args.seed,
                              progress=not args.quiet)
    except StylizeInterrupted as stop:
        where = stop.written[0] if len(stop.written) == 1 else Path(args.output)
        print(f"{PROG}: interrupted; wrote {len(stop.written)} of {len(args.inputs)} image(s)"
              f"{f' to {where}' if stop.written else ''} ({time.perf_counter() - start:.1f} s)",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    if not args.quiet:
        where = paths[0] if len(paths) == 1 else paths[0].parent
        print(f"{PROG}: wrote {len(paths)} image(s) to {where} "
              f"({time.perf_counter() - start:.1f} s)", file=sys.stderr)
    return 0


def sample_command(args: argparse.Namespace) -> int:
    """``imagestyle sample``."""
    from .sample import sample_files

    paths = sample_files(args.model, args.output, size=args.size, seed=args.seed,
                         count=args.count, batch_size=args.batch_size,
                         device=select_device(args.device))
    if not args.quiet:
        print(f"{PROG}: wrote {len(paths)} sample(s): {paths[0]}"
              f"{' ...' if len(paths) > 1 else ''}", file=sys.stderr)
    return 0


def export_command(args: argparse.Namespace) -> int:
    """``imagestyle export``."""
    from .export import export_model

    report = export_model(args.model, args.format, args.output)
    if not args.quiet:
        print(f"{PROG}: exported {args.model} to {report.path} ({report.format}, inputs: "
              f"{', '.join(report.inputs)}); verified: output matches PyTorch on test inputs "
              f"{' and '.join('x'.join(map(str, s)) for s in report.test_shapes)} (max abs diff "
              f"{report.max_abs_diff:.2g})", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry point with only these subcommands (``python -m
    imagestyle.feedforward.cli``)."""
    from shared.cli import ArgumentParser, sys_exit

    @sys_exit("imagestyle", FLAGS, memory_advice=MEMORY_ADVICE)
    def run(argv: list[str] | None) -> int:
        parser = ArgumentParser(prog="imagestyle")
        add_subcommands(parser.add_subparsers(dest="command", required=True))
        args = parser.parse_args(argv)
        return args.func(args)

    return run(argv)


if __name__ == "__main__":
    raise SystemExit(main())
