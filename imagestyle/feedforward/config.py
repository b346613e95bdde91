"""The settings of a training run (:class:`TrainConfig`): defaults, validation, resume rules.

:meth:`TrainConfig.resolved` fills in every default and checks every value, raising
``ValueError`` that names the field; :func:`check_resumable` says whether a checkpoint's settings
allow a resumed run. The generator itself is built in one place,
:func:`imagestyle.feedforward.networks.build_network`, from :meth:`TrainConfig.network_config`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Optional

from shared.checkpoints import check_resumable as shared_check

from ..features import DEFAULT_LAYERS
from ..imageio import target_size

# Default loss weights of pytorch/examples' fast_neural_style (Gram / (C*H*W), mean squared
# errors, VGG on ImageNet-normalised [0, 1] input), which reproduce Johnson et al.'s results.
DEFAULT_CONTENT_WEIGHT = 1e5
DEFAULT_STYLE_WEIGHT = 1e10
DEFAULT_TV_WEIGHT = 0.0
DEFAULT_MODEL = {"johnson": "vgg16", "texture-net": "vgg19"}
DEFAULT_TEXTURE_STEPS = 2000
DEFAULT_EPOCHS = 2

# Settings a resumed run may change; every other field must match the checkpoint's.
RESUMABLE_CHANGES = frozenset({"steps", "epochs", "checkpoint_every", "workers", "device", "quiet",
                               "out", "checkpoint", "log_every"})
# Fields renamed since older checkpoints were written: old name -> new name.
RENAMED_FIELDS = {"scales": "pyramid_scales"}


@dataclass
class TrainConfig:
    """Everything that defines a training run (stored in checkpoints and model files)."""

    styles: list[str]  # style image paths (several are blended with equal weights)
    out: str  # model file written at every checkpoint and at the end
    arch: str = "johnson"  # "johnson" (transform net) or "texture-net" (Ulyanov pyramid)
    mode: str = "stylize"  # "stylize" (content + style) or "texture" (texture-net only: noise)
    dataset: Optional[str] = None  # folder of training images (stylize mode)
    image_size: int = 256  # side of the square training crops (paper: 256)
    style_size: Optional[int] = None  # longest side of the style images (default: image_size)
    batch_size: int = 4  # images per step per process (paper: 4)
    steps: Optional[int] = None  # total optimiser steps (default: epochs, or 2000 in texture mode)
    epochs: Optional[int] = None  # passes over the dataset (default 2, as in the paper)
    lr: float = 1e-3  # Adam learning rate (both papers)
    content_weight: float = DEFAULT_CONTENT_WEIGHT  # weight of the content term
    style_weight: float = DEFAULT_STYLE_WEIGHT  # weight of the style term
    tv_weight: float = DEFAULT_TV_WEIGHT  # weight of the total-variation term
    content_layers: Optional[list[str]] = None  # default: the feature model's content layers
    style_layers: Optional[list[str]] = None  # default: the feature model's style layers
    content_layer_weights: Optional[dict[str, float]] = None  # per content layer (default 1)
    style_layer_weights: Optional[dict[str, float]] = None  # per style layer (default 1)
    model: Optional[str] = None  # loss network: vgg16 (johnson default), vgg19, random-multiscale
    weights: str = "imagenet"  # VGG weights: imagenet, random or a .pth path
    norm: Optional[str] = None  # generator norm: instance / batch (default: the arch's)
    width: float = 1.0  # johnson: channel multiplier
    pyramid_scales: int = 6  # texture-net: pyramid levels, each half the previous resolution
    channels: int = 8  # texture-net: channels per scale
    checkpoint: Optional[str] = None  # checkpoint path (default: OUT + ".ckpt")
    checkpoint_every: int = 1000  # steps between checkpoints (0: only at the end)
    seed: int = 0  # seed of the initial weights, data order, crops and noise
    device: str = "auto"  # auto, cpu, cuda, cuda:N
    workers: int = 0  # data-loader worker processes
    quiet: bool = False  # no progress bar or summary
    log_every: int = 10  # steps between progress-bar refreshes of the loss terms
    resume: bool = False  # continue from the checkpoint

    def resolved(self) -> "TrainConfig":
        """A copy with every default filled in and every value checked (raises ``ValueError``
        naming the field)."""
        c = dataclasses.replace(self)
        _check_choices(c)
        _check_numbers(c)
        c.model = c.model or DEFAULT_MODEL[c.arch]
        c.norm = c.norm or ("instance" if c.arch == "johnson" else "batch")
        c.style_size = c.style_size or c.image_size
        if c.mode == "texture":
            c.content_layers = []
            c.content_layer_weights = None
        _fill_default_layers(c)
        _check_layer_weights(c)
        c.checkpoint = c.checkpoint or f"{c.out}.ckpt"
        c.styles = [str(s) for s in c.styles]
        return c

    def network_config(self) -> dict[str, Any]:
        """The generator's architecture settings, as model files store them (build the
        generator with :func:`~imagestyle.feedforward.networks.build_network`)."""
        if self.arch == "johnson":
            return {"norm": self.norm or "instance", "width": self.width}
        return {"mode": self.mode, "scales": self.pyramid_scales, "channels": self.channels,
                "norm": self.norm or "batch"}


def _check_choices(c: TrainConfig) -> None:
    """The settings that name things: arch, mode, styles, dataset."""
    if c.arch not in DEFAULT_MODEL:
        raise ValueError(f"arch must be johnson or texture-net, got {c.arch!r}")
    if c.mode not in ("stylize", "texture"):
        raise ValueError(f"mode must be stylize or texture, got {c.mode!r}")
    if c.arch == "johnson" and c.mode == "texture":
        raise ValueError("mode texture needs arch texture-net (the transform net stylises)")
    if not c.styles:
        raise ValueError("styles is empty: give at least one style image")
    if c.mode == "stylize" and not c.dataset:
        raise ValueError("mode stylize trains on photos: give dataset, a folder of images")
    if c.mode == "texture" and c.epochs is not None:
        raise ValueError("mode texture has no dataset, hence no epochs: give steps")
    if c.steps is not None and c.epochs is not None:
        raise ValueError("give steps or epochs, not both")


def _check_numbers(c: TrainConfig) -> None:
    """The numeric settings: sizes, counts, the learning rate and the loss weights."""
    for name in ("image_size", "batch_size", "channels"):
        if getattr(c, name) < 1:
            raise ValueError(f"{name} must be >= 1, got {getattr(c, name)}")
    if not 1 <= c.pyramid_scales <= 10:
        raise ValueError(f"pyramid_scales must be between 1 and 10, got {c.pyramid_scales}")
    for name in ("steps", "epochs"):
        if getattr(c, name) is not None and getattr(c, name) < 1:
            raise ValueError(f"{name} must be >= 1, got {getattr(c, name)}")
    if not (c.lr > 0):
        raise ValueError(f"lr must be positive, got {c.lr}")
    for name in ("content_weight", "style_weight", "tv_weight"):
        v = getattr(c, name)
        if not (v >= 0 and math.isfinite(v)):
            raise ValueError(f"{name} must be finite and >= 0, got {v}")
    for name in ("checkpoint_every", "workers"):
        if getattr(c, name) < 0:
            raise ValueError(f"{name} must be >= 0, got {getattr(c, name)}")


def _fill_default_layers(c: TrainConfig) -> None:
    """The feature model's default layers where none were given."""
    if c.content_layers is not None and c.style_layers is not None:
        return
    defaults = DEFAULT_LAYERS.get(c.model)  # type: ignore[arg-type]
    if defaults is None:
        raise ValueError(f"no default layers known for model {c.model!r}; give "
                         "content_layers and style_layers")
    if c.content_layers is None:
        # Ulyanov et al. use relu4_2 with VGG-19 and Johnson et al. relu3_3 with VGG-16.
        c.content_layers = list(defaults.content)
    if c.style_layers is None and c.model == "random-multiscale":
        c.style_layers = _multiscale_layers(c.styles, c.style_size, c.image_size)  # type: ignore[arg-type]
    if c.style_layers is None:
        c.style_layers = list(defaults.style)


def _check_layer_weights(c: TrainConfig) -> None:
    """Per-layer weights name only used layers and are finite and >= 0."""
    if not c.style_layers:
        raise ValueError("style_layers is empty")
    for what, weights, names in (("content", c.content_layer_weights, c.content_layers),
                                 ("style", c.style_layer_weights, c.style_layers)):
        extra = sorted(set(weights or {}) - set(names or []))
        if extra:
            raise ValueError(f"{what}_layer_weights name layers that are not {what}_layers: "
                             f"{', '.join(extra)}")
        if any(not (w >= 0 and math.isfinite(w)) for w in (weights or {}).values()):
            raise ValueError(f"{what}_layer_weights must be finite and >= 0, got {weights}")


def _multiscale_layers(styles: list[str], style_size: int, image_size: int) -> Optional[list[str]]:
    """Default random-multiscale style layers: the scales no wider than a quarter of the smallest
    image they are matched on (:func:`imagestyle.gatys.multiscale_style_layers`), so that the
    generator learns the texture rather than a copy of the style image. ``None`` if a style
    image's header cannot be read (loading it reports the error)."""
    from PIL import Image

    from ..gatys import multiscale_style_layers

    short = image_size
    for path in styles:
        try:
            with Image.open(path) as img:
                w, h = img.size
        except (OSError, ValueError, SyntaxError):
            return None
        short = min(short, *target_size((w, h), style_size))
    return multiscale_style_layers(short)


def check_resumable(saved: dict[str, Any], current: TrainConfig, path: Path) -> None:
    """Raise ``ValueError`` if ``current`` differs from ``saved`` (a checkpoint's settings) in
    a setting that shapes training (:func:`shared.checkpoints.check_resumable`)."""
    shared_check(saved, asdict(current), path, RESUMABLE_CHANGES, RENAMED_FIELDS)
