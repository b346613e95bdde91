"""The argument grammar of the ``imagestyle`` command line, shared by every subcommand.

One parser per kind of value, so that a flag reads the same everywhere:

* ``--content-layers`` and ``--style-layers`` (``transfer``, ``texture``, ``train``):
  ``NAME[:WEIGHT],...`` (:func:`layer_list`);
* ``--features vgg19|vgg16|random-multiscale``: the feature (loss) network (``transfer``,
  ``texture``, ``train``); ``--model FILE`` is always a trained model file (``stylize``,
  ``sample``, ``export``);
* ``--precision fp32|bf16``: the feature network's arithmetic (``transfer``, ``texture``;
  :func:`add_precision_option`);
* ``--size N|WxH`` (``transfer``, ``texture``, ``stylize``, ``sample``; :func:`size`,
  :func:`add_size_option`): N is the output's longest side, with the aspect natural to the
  command (the content's, the first style's, each input's, the training size's), and WxH is
  exactly W x H (:func:`imagestyle.imageio.target_size`);
* ``-q/--quiet``: no progress bar or summary, in every subcommand (:func:`add_quiet_option`);
* comma-separated numbers (:func:`float_list`), counts (:func:`positive_int`,
  :func:`nonneg_int`).

:data:`FLAGS` maps the library's parameter names to these flags, so that the library's errors
(``ValueError("lr must be positive, got 0")``) reach the user as ``--lr must be positive, got 0``
(:func:`shared.cli.sys_exit`).
"""

from __future__ import annotations

import argparse
import math
from typing import Any, Callable

from shared.cli import QUIET_HELP

from .features import MODELS
from .imageio import parse_size

# The library's parameter names (GatysConfig, TrainConfig, the feed-forward functions) -> flags.
# Only names that are never ordinary words in the library's messages: "model" (the feature
# network in the configs, a file in `stylize`) and "checkpoint" are left as they are.
# What lowers a run's memory, for an out-of-memory that slipped past the estimates
MEMORY_ADVICE = ("lower --size (or --style-scale); training: --image-size or --batch-size; "
                 "stylising and sampling: --batch-size")

FLAGS: dict[str, str] = {
    # transfer and texture (GatysConfig)
    "weights": "--weights", "pooling": "--pooling", "preprocess": "--preprocess",
    "content_layers": "--content-layers", "style_layers": "--style-layers",
    "content_layer_weights": "--content-layers", "style_layer_weights": "--style-layers",
    "content_weight": "--content-weight", "style_weight": "--style-weight",
    "tv_weight": "--tv-weight", "style_blend_weights": "--style-weights",
    "style_scale": "--style-scale", "size": "--size", "scales": "--scales",
    "iterations": "--iterations", "optimizer": "--optimizer", "lr": "--lr",
    "line_search": "--line-search", "init": "--init", "preserve_color": "--preserve-color",
    "seed": "--seed", "device": "--device", "precision": "--precision",
    # train (TrainConfig)
    "styles": "STYLE", "out": "--output", "arch": "--arch", "mode": "--mode",
    "dataset": "--dataset", "image_size": "--image-size", "style_size": "--style-size",
    "batch_size": "--batch-size", "steps": "--steps", "epochs": "--epochs", "norm": "--norm",
    "width": "--width", "pyramid_scales": "--pyramid-scales",
    "checkpoint_every": "--checkpoint-every",
    "workers": "--workers", "resume": "--resume",
    # sample
    "count": "--count",
}

FEATURES = MODELS  # the choices of --features


def add_features_option(group: Any, default: str) -> None:
    """Add ``--features`` (the feature network of the loss) to an argument group."""
    group.add_argument("--features", choices=FEATURES, default=None,
                       help=f"feature network of the loss (default: {default})")


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """argparse's formatter that appends ``(default: ...)`` to a help text, except where the
    text states its default itself, the option is required, or there is no default (``None``,
    ``False``)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        no_default = action.default is None or action.default is False
        if "(default:" in text or action.required or no_default:
            return text
        return super()._get_help_string(action)


def add_size_option(group: Any, aspect: str, default: int | None, default_help: str = "") -> None:
    """Add ``--size N|WxH`` with its one meaning: N is the output's longest side with the
    aspect of ``aspect`` (e.g. "the content image"), WxH exactly W x H; ``default_help`` says
    what no ``--size`` means (default: ``default``)."""
    group.add_argument("--size", type=size, default=default, metavar="N|WxH",
                       help=f"output size; N: longest side N (aspect of {aspect}); WxH: exactly "
                            f"W x H (default: {default_help or default})")




def add_quiet_option(group: Any) -> None:
    """Add ``-q/--quiet``: no progress bar or summary line (an interruption is still told)."""
    group.add_argument("-q", "--quiet", action="store_true", help=QUIET_HELP)


PRECISION_HELP = (
    "arithmetic of the feature network: fp32, or bf16 (weights cast once, convolutions in "
    "bfloat16 on the CPU and CUDA; the image, L-BFGS's memory, Grams and losses stay "
    "float32); faster per evaluation on CPUs with bfloat16 instructions, but its results part "
    "ways with fp32's after a few steps, so fp32 is the default; docs/images.md, "
    "\"Precision\" (default: fp32)")


def add_precision_option(group: Any) -> None:
    """Add ``--precision fp32|bf16`` (:attr:`imagestyle.gatys.GatysConfig.precision`)."""
    group.add_argument("--precision", choices=("fp32", "bf16"), default="fp32",
                       help=PRECISION_HELP)


def parse_layers(text: str) -> tuple[list[str], dict[str, float] | None]:
    """``"relu1_1:0.5,relu2_1"`` -> ``(["relu1_1", "relu2_1"], {"relu1_1": 0.5, "relu2_1": 1})``;
    the weights are ``None`` when none is given. Raises ``ValueError`` for a bad weight, a
    repeated layer or an empty list."""
    names: list[str] = []
    weights: dict[str, float] = {}
    weighted = False
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        name, sep, value = item.partition(":")
        name = name.strip()
        weight = 1.0
        if sep:
            weighted = True
            try:
                weight = float(value)
            except ValueError:
                raise ValueError(f"bad weight {value!r} for layer {name!r}; use "
                                 "NAME[:WEIGHT],... e.g. relu1_1:0.5,relu2_1") from None
            if not (weight >= 0 and math.isfinite(weight)):
                raise ValueError(f"layer weights must be finite and >= 0, got {value}")
        if not name:
            raise ValueError(f"a layer weight without a layer name in {text!r}")
        if name in names:
            raise ValueError(f"layer {name} is given twice")
        names.append(name)
        weights[name] = weight
    if not names:
        raise ValueError("no layer names given")
    return names, (weights if weighted else None)


def _argparse_type(parse: Callable[[str], Any], name: str) -> Callable[[str], Any]:
    """``parse`` as an argparse ``type``: its ``ValueError`` becomes argparse's error, which
    names the flag."""

    def convert(text: str) -> Any:
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = name
    return convert


def _floats(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"expected comma-separated numbers, got {text!r}") from None
    if not values:
        raise ValueError(f"expected comma-separated numbers, got {text!r}")
    return values


def _int_at_least(minimum: int, what: str) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise ValueError(f"expected {what}, got {text!r}") from None
        if value < minimum:
            raise ValueError(f"expected {what}, got {value}")
        return value

    return parse


layer_list = _argparse_type(parse_layers, "layer_list")  # NAME[:WEIGHT],...
float_list = _argparse_type(_floats, "float_list")  # X,Y,...
size = _argparse_type(parse_size, "size")  # N or WxH
positive_int = _argparse_type(_int_at_least(1, "a positive integer"), "positive_int")
nonneg_int = _argparse_type(_int_at_least(0, "an integer >= 0"), "nonneg_int")

__all__ = ["FEATURES", "FLAGS", "QUIET_HELP", "HelpFormatter", "add_features_option",
           "add_precision_option", "add_quiet_option", "add_size_option", "float_list",
           "layer_list", "nonneg_int", "parse_layers", "positive_int", "size"]
