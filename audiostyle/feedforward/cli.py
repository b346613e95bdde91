"""The ``train``, ``stylize``, ``sample`` and ``export`` subcommands of ``audiostyle``.

    audiostyle train STYLE [STYLE ...] --dataset DIR -o MODEL.pt [--preset quick|full]
    audiostyle train STYLE [STYLE ...] --mode texture -o MODEL.pt
    audiostyle stylize --model MODEL.pt IN [IN ...] -o OUT|DIR [--stereo] [--stream]
    audiostyle sample --model MODEL.pt --seconds 30 --seed 3 -o OUT.wav
    audiostyle export --model MODEL.pt --format torchscript|onnx -o OUT

:func:`add_subcommands` adds them to the parser :mod:`audiostyle.cli` builds; each handler
fills the library's settings and returns an exit status. The library's errors name its
settings; :data:`FLAGS` turns them into these flags.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Callable

from shared import atomic_write
from shared.cli import QUIET_HELP

from .config import (PRECISIONS, STYLIZE_SCORING, TEXTURE_SCORING, TRAIN_PRESETS,
                     AudioTrainConfig)

FLAGS = {"batch_size": "--batch-size", "crop_seconds": "--crop-seconds", "steps": "--steps",
         "lr": "--lr", "content_weight": "--content-weight", "filters": "--filters",
         "block_ms": "--block-ms", "channels": "--channels", "blocks": "--blocks",
         "dataset": "--dataset", "preset": "--preset", "autocorr_weight": "--autocorr-weight",
         "resume": "--resume", "seconds": "--seconds", "level_seconds": "--level-seconds",
         "noise_input": "--noise-input", "noise_part": "--noise-part", "warmup": "--warmup",
         "envelope": "--envelope", "loss_filters": "--loss-filters",
         "level_weight": "--level-weight"}


def _train_parser(sub: argparse._SubParsersAction) -> None:
    t = sub.add_parser("train", help="train a network once per style (then: stylize, sample)",
                       description="Train a feed-forward network on the optimisation's own "
                       "objective: a transform network on a folder of content recordings, or "
                       "(--mode texture) a noise-fed texture network on the style alone.")
    t.add_argument("styles", nargs="+", metavar="STYLE", help="style recording(s)")
    t.add_argument("--dataset", metavar="DIR", help="folder of content recordings, searched "
                   "recursively (stylize mode)")
    t.add_argument("-o", "--output", required=True, metavar="MODEL.pt", help="model file")
    t.add_argument("--mode", choices=("stylize", "texture"), default="stylize")
    t.add_argument("--preset", choices=tuple(TRAIN_PRESETS), default="quick",
                   help="run size: quick (2 CPU cores) or full (a GPU) (default: quick)")
    for name, kind, meta, text in (
            ("steps", int, "N", "optimiser steps"), ("batch_size", int, "N", "crops a step"),
            ("crop_seconds", float, "S", "seconds a crop"),
            ("channels", int, "N", "network width"), ("blocks", int, "N", "residual blocks")):
        t.add_argument("--" + name.replace("_", "-"), dest=name, type=kind, metavar=meta,
                       help=f"{text} (default: the preset's)")
    t.add_argument("--lr", type=float, default=1e-3, help="Adam's step size (default: 1e-3)")
    t.add_argument("--content-weight", type=float, default=1e-2, metavar="A",
                   help="alpha, the optimisation's content weight (default: 1e-2)")
    t.add_argument("--autocorr-weight", type=float, default=0.0, metavar="W",
                   help="weight of the rhythm term (default: 0)")
    t.add_argument("--level-seconds", type=float, default=3.0, metavar="S",
                   help="stylize: the network hears its input at the style's level, by a "
                   "causal running RMS of this time constant; 0: at the level it comes "
                   "(default: 3)")
    t.add_argument("--noise-input", type=int, default=AudioTrainConfig.noise_input, metavar="K",
                   help="stylize: channels of noise the network reads beside the content, "
                   f"0: none (default: {AudioTrainConfig.noise_input})")
    t.add_argument("--noise-part", type=int, choices=(0, 1), default=AudioTrainConfig.noise_part,
                   help="stylize: 1 lets the network add filtered noise to its result "
                   f"(default: {AudioTrainConfig.noise_part})")
    t.add_argument("--envelope", type=int, choices=(0, 1), default=AudioTrainConfig.envelope,
                   help="stylize: 1 writes each frame at the loudness of the content's, so "
                   "pauses stay pauses; 0: the network chooses it "
                   f"(default: {AudioTrainConfig.envelope})")
    t.add_argument("--warmup", type=float, metavar="R",
                   help="texture: each crop follows up to R receptive fields of unscored "
                   f"frames (default: {TEXTURE_SCORING['warmup']:g})")
    t.add_argument("--level-weight", type=float, metavar="W",
                   help="crops are scored at one level (texture: the style's RMS; stylize: "
                   "the levelled content's), W holds the written level there; 0: scored as "
                   f"written (default: texture {TEXTURE_SCORING['level_weight']:g}, "
                   f"stylize {STYLIZE_SCORING['level_weight']:g})")
    t.add_argument("--filters", type=int, default=4096, metavar="N",
                   help="the loss network's filters, as the optimisation's (default: 4096)")
    t.add_argument("--loss-filters", type=int, metavar="N",
                   help="loss filters a step reads, drawn at random from --filters and scaled "
                        "so a step estimates the whole objective; 0: all (default: the "
                        "preset's)")
    t.add_argument("--seed", type=int, default=0, help="seeds the loss network, the weights, "
                   "the crops and the noise (default: 0)")
    t.add_argument("--checkpoint-every", type=int, default=100, metavar="N")
    t.add_argument("--resume", action="store_true", help="continue from MODEL.pt.ckpt")
    t.add_argument("--device", default="auto")
    t.add_argument("--precision", choices=PRECISIONS, default="auto",
                   help="the loss network's arithmetic; auto: bf16 on a GPU or a CPU with "
                        "bfloat16 instructions (AVX512-BF16, AMX), else fp32 (default: auto)")
    t.add_argument("-q", "--quiet", action="store_true", help=QUIET_HELP)


def add_subcommands(sub: argparse._SubParsersAction) -> None:
    """Add ``train``, ``stylize``, ``sample`` and ``export`` to ``audiostyle``'s parser."""
    _train_parser(sub)
    s = sub.add_parser("stylize", help="stylise recordings with a trained model, in one pass",
                       description="Stylise recordings (any rate or format) with a model "
                       "trained by `audiostyle train`.")
    s.add_argument("inputs", nargs="+", metavar="IN", help="content recording(s)")
    s.add_argument("--model", required=True, metavar="MODEL.pt")
    s.add_argument("-o", "--output", required=True, metavar="OUT|DIR",
                   help="result file for one input, folder for several")
    s.add_argument("--stereo", action="store_true", help="stylise each channel")
    s.add_argument("--stream", action="store_true",
                   help="process fixed blocks the way a live input arrives")
    s.add_argument("--block-ms", type=float, metavar="MS",
                   help="the stream's block (default: one hop of the model's STFT)")
    s.add_argument("--metrics", metavar="F.json", help="write seconds, real-time factor and "
                   "latency as JSON")
    s.add_argument("--device", default="cpu")
    s.add_argument("-q", "--quiet", action="store_true", help=QUIET_HELP)
    m = sub.add_parser("sample", help="draw new texture from a texture model",
                       description="Draw texture of any length from a model trained with "
                       "`audiostyle train --mode texture`; each seed gives different texture.")
    m.add_argument("--model", required=True, metavar="MODEL.pt")
    m.add_argument("--seconds", type=float, required=True, metavar="T")
    m.add_argument("--seed", type=int, default=0)
    m.add_argument("-o", "--output", required=True, metavar="OUT.wav")
    m.add_argument("--device", default="cpu")
    e = sub.add_parser("export", help="export a model to TorchScript or ONNX, verified",
                       description="Export an audio model's network over frames; the file is "
                       "checked against PyTorch and not written when they differ.")
    e.add_argument("--model", required=True, metavar="MODEL.pt")
    e.add_argument("--format", required=True, choices=("torchscript", "onnx"))
    e.add_argument("-o", "--output", required=True, metavar="OUT")


def _train(args: argparse.Namespace) -> int:
    from .train import train

    config = AudioTrainConfig(
        styles=args.styles, out=args.output, mode=args.mode, dataset=args.dataset,
        preset=args.preset, steps=args.steps, batch_size=args.batch_size,
        crop_seconds=args.crop_seconds, channels=args.channels, blocks=args.blocks, lr=args.lr,
        content_weight=args.content_weight, autocorr_weight=args.autocorr_weight,
        filters=args.filters, level_seconds=args.level_seconds, noise_input=args.noise_input,
        noise_part=args.noise_part, envelope=args.envelope, warmup=args.warmup,
        level_weight=args.level_weight, loss_filters=args.loss_filters,
        seed=args.seed, checkpoint_every=args.checkpoint_every,
        resume=args.resume, device=args.device, precision=args.precision, quiet=args.quiet)
    result = train(config)
    if result.rank == 0 and not args.quiet:
        last = result.losses[-1]["total"] if result.losses else float("nan")
        note = "interrupted; wrote" if result.interrupted else "wrote"
        print(f"audiostyle: {note} {result.model_path} (step {result.step} of "
              f"{result.total_steps}, loss {last:.4g}, {result.seconds:.0f} s, "
              f"{result.items_per_second:.2f} crops/s)", file=sys.stderr)
    return 130 if result.interrupted else 0


def _stylize(args: argparse.Namespace) -> int:
    from .stylize import stylize_files

    report = stylize_files(args.model, args.inputs, args.output, stereo=args.stereo,
                           stream=args.stream, block_ms=args.block_ms, device=args.device,
                           progress=not args.quiet and len(args.inputs) > 1)
    audio = sum(r.seconds_audio for r in report.results)
    work = sum(r.seconds for r in report.results)
    if args.metrics:
        with atomic_write(args.metrics, "w") as fh:
            json.dump({"model": args.model, "stream": args.stream,
                       "block_ms": report.block_ms, "latency_ms": report.latency_ms,
                       "look_ahead_ms": report.look_ahead_ms, "seconds": work,
                       "audio_seconds": audio, "realtime_factor": audio / max(work, 1e-9),
                       "files": [{"output": str(r.path), "audio_seconds": r.seconds_audio,
                                  "seconds": r.seconds, "realtime_factor": r.realtime_factor}
                                 for r in report.results]}, fh, indent=2)
            fh.write("\n")
    if not args.quiet:
        where = report.results[0].path if len(report.results) == 1 else args.output
        print(f"audiostyle: wrote {where} ({len(report.results)} file(s), {audio:.1f} s of "
              f"audio in {work:.2f} s, {audio / max(work, 1e-9):.0f}x real time"
              + (f", latency {report.latency_ms:.1f} ms" if args.stream else "") + ")",
              file=sys.stderr)
    return 0


def _sample(args: argparse.Namespace) -> int:
    from .stylize import sample_file

    done = sample_file(args.model, args.seconds, args.output, seed=args.seed, device=args.device)
    print(f"audiostyle: wrote {done.path} ({done.seconds_audio:.1f} s, seed {args.seed}, "
          f"{done.seconds:.2f} s)", file=sys.stderr)
    return 0


def _export(args: argparse.Namespace) -> int:
    from .export import export_model

    report = export_model(args.model, args.format, args.output)
    print(f"audiostyle: wrote {report.path} ({report.format}; input {report.inputs[0]}; "
          f"largest difference from PyTorch {report.max_abs_diff:.2g})", file=sys.stderr)
    return 0


HANDLERS: dict[str, Callable[[argparse.Namespace], int]] = {
    "train": _train, "stylize": _stylize, "sample": _sample, "export": _export}

__all__ = ["FLAGS", "HANDLERS", "add_subcommands"]
