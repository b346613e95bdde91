"""One entry point for every image feature network: :func:`build_extractor`.

An extractor is an ``nn.Module`` whose ``forward(image)`` takes RGB images ``(B, 3, H, W)`` in
[0, 1] and returns ``{layer_name: (B, C, H_l, W_l)}`` for the layers it was built for, with
attributes ``layers`` (those names) and ``available_layers`` (every valid name). Its parameters
are frozen.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence

import torch
from torch import nn

from shared.device import compute_dtype

from .random_multiscale import multiscale_layout
from .vgg import VGGFeatures, load_weights, vgg_layout

MODELS = ("vgg19", "vgg16", "random-multiscale")


class FeatureLayout(Protocol):
    """What every feature network's layout answers (:class:`imagestyle.vgg.VGGLayout`,
    :class:`imagestyle.random_multiscale.MultiscaleLayout`)."""

    names: tuple[str, ...]  # every layer, in order

    def channels(self, name: str) -> int:
        """Channels of layer ``name``'s output."""
        ...

    def stride(self, name: str) -> int:
        """Downsampling of layer ``name``'s output relative to the image."""
        ...


def feature_layout(model: str) -> FeatureLayout:
    """The layer layout of the feature network ``model`` as :func:`build_extractor` builds it
    (one object per model: ask it for names, channels and strides, never run the network)."""
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; choose one of {', '.join(MODELS)}")
    if model == "random-multiscale":
        return multiscale_layout()
    return vgg_layout(model)  # type: ignore[arg-type]


@dataclass(frozen=True)
class LayerDefaults:
    """Default layers of a feature network for the optimisation and feed-forward methods."""

    content: tuple[str, ...]  # content layers
    style: tuple[str, ...]  # style layers


DEFAULT_LAYERS: dict[str, LayerDefaults] = {
    # jcjohnson/neural-style (Gatys et al. 2016).
    "vgg19": LayerDefaults(("relu4_2",), ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")),
    # Johnson et al. (2016) perceptual losses; content relu3_3 as in their released models.
    "vgg16": LayerDefaults(("relu3_3",), ("relu1_2", "relu2_2", "relu3_3", "relu4_3")),
    # Ustyuzhaninov et al. (2017): every filter size of the single random layer; content from
    # the 11 px filters (fine enough to keep the content's layout, wide enough to ignore noise).
    # The Gatys methods keep only the scales up to 1/4 of the style image's short side
    # (imagestyle.gatys.multiscale_style_layers), so small sources are not copied.
    "random-multiscale": LayerDefaults(
        ("scale11",),
        ("scale3", "scale5", "scale7", "scale11", "scale15", "scale23", "scale37", "scale55"),
    ),
}


def build_extractor(
    model: str = "vgg19",
    layers: Sequence[str] = (),
    *,
    weights: str = "imagenet",
    pooling: str = "max",
    preprocess: str | None = None,
    seed: int = 0,
    device: torch.device | str = "cpu",
    precision: str = "fp32",
) -> nn.Module:
    """Build a frozen feature extractor returning ``layers``.

    Args:
        model: ``"vgg19"``, ``"vgg16"`` or ``"random-multiscale"``.
        layers: Layer names to return.
        weights: VGG only: ``"imagenet"``, ``"random"`` or a ``.pth`` path
            (see :func:`imagestyle.vgg.load_weights`).
        pooling: VGG only: ``"max"`` or ``"avg"``.
        preprocess: VGG only: ``"torchvision"`` or ``"caffe"``; ``None`` picks the weights' own.
        seed: Seed of random weights (``weights="random"``, ``random-multiscale``).
        device: Where the extractor lives.
        precision: ``"fp32"`` or ``"bf16"``: the network's weights are cast to bfloat16 once
            and its convolutions run in bfloat16 on any device; the input is normalised in
            float32 and the features come back as float32, so Gram matrices and losses are
            computed in float32. (Autocast would cast the frozen weights again on every call:
            on the CPU that made VGG-19 at 128 px slower than float32.)

    Raises:
        ValueError: unknown model or layer, mismatched weights.
        FileNotFoundError: a missing weights file.
    """
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; choose one of {', '.join(MODELS)}")
    compute_dtype(precision)  # validates
    if model == "random-multiscale":
        from .random_multiscale import RandomMultiscaleFeatures

        return RandomMultiscaleFeatures(layers, seed=seed, precision=precision).to(device)
    state, detected = load_weights(model, weights)  # type: ignore[arg-type]
    if weights == "random":
        import warnings

        warnings.warn("VGG weights are random (weights='random'): fine for tests and smoke runs, "
                      "but results are not artistic", stacklevel=2)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = VGGFeatures(model, layers, state, pooling=pooling,  # type: ignore[arg-type]
                          preprocess=preprocess or detected,  # type: ignore[arg-type]
                          precision=precision)
    return net.to(device)
