"""VGG-16 / VGG-19 as multi-layer feature extractors with named layers.

Gatys et al. (2015, 2016) read features of an ImageNet-trained VGG-19; Johnson et al. (2016)
of a VGG-16. Layers are named as in the papers: ``conv1_1``, ``relu1_1``, ..., ``pool1``, ...

Weights come in two layouts and two input conventions:

* torchvision's ImageNet weights (``features.N.weight`` keys; RGB in [0, 1] normalised by the
  ImageNet mean/std), downloaded and cached by torchvision on first use;
* Caffe-converted VGG files that most style-transfer code uses (``vgg19-d01eb7cb.pth``,
  ``vgg16-00b39a1b.pth``: torchvision's key layout; or Gatys' ``vgg_conv.pth``-style named keys
  ``conv1_1.weight``), which expect BGR in 0-255 minus the mean (103.939, 116.779, 123.68).

The preprocessing lives inside the extractor, so callers always give RGB images in [0, 1].
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Mapping, Sequence

import torch
from torch import Tensor, nn

from shared.device import compute_dtype


Arch = Literal["vgg16", "vgg19"]
Pooling = Literal["max", "avg"]
Preprocess = Literal["torchvision", "caffe"]

# Convolutions per block and channels per block: read them through vgg_layout().
_BLOCKS: dict[str, tuple[int, ...]] = {"vgg16": (2, 2, 3, 3, 3), "vgg19": (2, 2, 4, 4, 4)}
_CHANNELS = (64, 128, 256, 512, 512)
# Caffe-converted files that keep torchvision's key layout, known by their published names.
_CAFFE_FILES = ("vgg19-d01eb7cb", "vgg16-00b39a1b")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)


@dataclass(frozen=True)
class VGGLayout:
    """The layer layout of one VGG architecture, asked of one object by everyone (the
    extractor, the memory estimate, the benchmarks).

    Layers are named as in the papers: ``conv1_1, relu1_1, ..., pool1, ..., pool5``; their
    order is that of torchvision's ``vgg*.features`` Sequential. Build it with
    :func:`vgg_layout` (one instance per architecture).

    Attributes:
        arch: ``"vgg16"`` or ``"vgg19"``.
        names: Every layer in order.
        out_channels: Output channels of each layer, in the order of ``names``.
        strides: Downsampling of each layer's output relative to the input image (1, 2, ..., 32),
            in the order of ``names``: a layer's output is ``(B, C, H // s, W // s)``.
    """

    arch: str
    names: tuple[str, ...]
    out_channels: tuple[int, ...]
    strides: tuple[int, ...]

    def index(self, name: str) -> int:
        """Position of ``name`` in :attr:`names` (its index in torchvision's Sequential)."""
        try:
            return self.names.index(name)
        except ValueError:
            raise ValueError(f"unknown {self.arch} layer {name}; valid layers: "
                             f"{', '.join(self.names)}") from None

    def channels(self, name: str) -> int:
        """Channels ``C`` of layer ``name``'s output."""
        return self.out_channels[self.index(name)]

    def in_channels(self, name: str) -> int:
        """Channels of layer ``name``'s input (3 for ``conv1_1``)."""
        i = self.index(name)
        return self.out_channels[i - 1] if i else 3

    def stride(self, name: str) -> int:
        """Downsampling factor of layer ``name``'s output relative to the image."""
        return self.strides[self.index(name)]

    def upto(self, layers: Sequence[str]) -> tuple[str, ...]:
        """Every layer from the first up to the deepest of ``layers`` (what must be run)."""
        if not layers:
            raise ValueError("no feature layers were asked for")
        return self.names[: max(self.index(n) for n in layers) + 1]


@functools.lru_cache(maxsize=None)
def vgg_layout(arch: Arch) -> VGGLayout:
    """The :class:`VGGLayout` of ``arch`` (built once per architecture)."""
    if arch not in _BLOCKS:
        raise ValueError(f"arch must be one of {sorted(_BLOCKS)}, got {arch!r}")
    names: list[str] = []
    channels: list[int] = []
    strides: list[int] = []
    for b, (n, c) in enumerate(zip(_BLOCKS[arch], _CHANNELS), start=1):
        stride = 2 ** (b - 1)
        for i in range(1, n + 1):
            names += [f"conv{b}_{i}", f"relu{b}_{i}"]
            channels += [c, c]
            strides += [stride, stride]
        names.append(f"pool{b}")
        channels.append(c)
        strides.append(2 * stride)
    return VGGLayout(arch, tuple(names), tuple(channels), tuple(strides))


def layer_names(arch: Arch) -> list[str]:
    """Every layer of ``arch`` in order: ``conv1_1, relu1_1, ..., pool5``."""
    return list(vgg_layout(arch).names)


def torchvision_index(arch: Arch) -> dict[str, int]:
    """Map each layer name to its index in torchvision's ``vgg*.features`` Sequential."""
    return {name: i for i, name in enumerate(vgg_layout(arch).names)}


def _build_layers(layout: VGGLayout, pooling: Pooling) -> nn.Sequential:
    layers: list[nn.Module] = []
    for name in layout.names:
        if name.startswith("conv"):
            layers.append(nn.Conv2d(layout.in_channels(name), layout.channels(name), 3, padding=1))
        elif name.startswith("relu"):
            layers.append(nn.ReLU(inplace=False))
        else:
            layers.append(nn.MaxPool2d(2, 2) if pooling == "max" else nn.AvgPool2d(2, 2))
    return nn.Sequential(*layers)


def detect_preprocess(state_dict: Mapping[str, Tensor], source: str | None = None) -> Preprocess:
    """Guess the input convention of a VGG state dict: Caffe for named keys or known Caffe files."""
    if any(re.fullmatch(r"conv\d_\d\.weight", k) for k in state_dict):
        return "caffe"
    if source is not None and any(tag in Path(source).name for tag in _CAFFE_FILES):
        return "caffe"
    return "torchvision"


def convert_state_dict(state_dict: Mapping[str, Tensor], arch: Arch) -> dict[str, Tensor]:
    """Bring a VGG state dict of either layout to the keys of our ``features`` Sequential.

    Accepts torchvision's ``features.N.weight`` (classifier keys ignored) and named
    ``convB_I.weight`` keys. Raises ``ValueError`` when the weights do not fit ``arch``.
    """
    index = torchvision_index(arch)
    out: dict[str, Tensor] = {}
    named = {k: v for k, v in state_dict.items() if re.fullmatch(r"conv\d_\d\.(weight|bias)", k)}
    if named:
        for key, value in named.items():
            layer, kind = key.split(".")
            if layer not in index:
                raise ValueError(f"the weights have layer {layer}, which {arch} does not have")
            out[f"{index[layer]}.{kind}"] = value
    else:
        for key, value in state_dict.items():
            m = re.fullmatch(r"(?:module\.)?features\.(\d+)\.(weight|bias)", key)
            if m:
                out[f"{m.group(1)}.{m.group(2)}"] = value
    if not out:
        raise ValueError(
            f"the weights hold no VGG convolution layers (keys like 'features.0.weight' or "
            f"'conv1_1.weight'); got keys such as {list(state_dict)[:3]}"
        )
    expected = {f"{i}.{k}" for name, i in index.items() if name.startswith("conv")
                for k in ("weight", "bias")}
    if set(out) != expected:
        have = len({k.split('.')[0] for k in out})
        raise ValueError(
            f"the weights do not match {arch}: they have {have} convolution layers, "
            f"{arch} has {len(expected) // 2}"
        )
    return out


class VGGFeatures(nn.Module):
    """Frozen VGG trunk returning the named layers asked for, stopping at the deepest one.

    Args:
        arch: ``"vgg16"`` or ``"vgg19"``.
        layers: Names of the layers to return (see :func:`layer_names`).
        state_dict: Weights in our ``features`` layout (see :func:`convert_state_dict`), or
            ``None`` to keep PyTorch's seeded random initialisation.
        pooling: ``"max"`` (the papers) or ``"avg"`` (Gatys et al. 2015 found it smoother).
        preprocess: Input convention of the weights, ``"torchvision"`` or ``"caffe"``.
        precision: ``"fp32"`` or ``"bf16"``: the convolutions' weights are stored, and the
            layers run, in bfloat16 (the input is normalised in its own dtype first, and the
            features come back in it).

    ``forward(image)`` takes RGB images ``(B, 3, H, W)`` in [0, 1] and returns
    ``{name: (B, C_l, H_l, W_l)}`` for the requested layers, in ``image``'s dtype.
    """

    def __init__(
        self,
        arch: Arch,
        layers: Sequence[str],
        state_dict: Mapping[str, Tensor] | None = None,
        pooling: Pooling = "max",
        preprocess: Preprocess = "torchvision",
        precision: str = "fp32",
    ) -> None:
        super().__init__()
        dtype = compute_dtype(precision)
        self.layout = vgg_layout(arch)
        valid = list(self.layout.names)
        if pooling not in ("max", "avg"):
            raise ValueError(f"pooling must be 'max' or 'avg', got {pooling!r}")
        if preprocess not in ("torchvision", "caffe"):
            raise ValueError(f"preprocess must be 'torchvision' or 'caffe', got {preprocess!r}")
        unknown = [n for n in layers if n not in valid]
        if unknown:
            raise ValueError(f"unknown {arch} layer(s) {', '.join(unknown)}; valid layers: "
                             f"{', '.join(valid)}")
        if not layers:
            raise ValueError("no feature layers were asked for")
        self.arch = arch
        self.layers = list(dict.fromkeys(layers))
        self.available_layers = valid
        self.preprocess = preprocess
        full = _build_layers(self.layout, pooling)
        if state_dict is not None:
            try:
                full.load_state_dict(state_dict)
            except RuntimeError as exc:
                first = str(exc).strip().splitlines()[-1].strip()
                raise ValueError(f"the weights do not match {arch}: {first}") from None
        self._names = list(self.layout.upto(self.layers))
        self.features = nn.Sequential(*list(full)[: len(self._names)]).to(dtype)
        self.precision = precision
        self.requires_grad_(False)
        self.eval()
        if preprocess == "torchvision":
            mean, scale = torch.tensor(IMAGENET_MEAN), 1.0 / torch.tensor(IMAGENET_STD)
        else:
            mean, scale = torch.tensor(CAFFE_MEAN_BGR[::-1]) / 255.0, torch.full((3,), 255.0)
        self.register_buffer("mean", mean.view(1, 3, 1, 1))
        self.register_buffer("scale", scale.view(1, 3, 1, 1))

    def train(self, mode: bool = True) -> "VGGFeatures":
        return super().train(False)  # always a fixed feature extractor

    def normalize(self, image: Tensor) -> Tensor:
        """RGB [0, 1] ``(B, 3, H, W)`` -> the network's input convention, same shape."""
        x = (image - self.mean) * self.scale  # (B, 3, H, W)
        if self.preprocess == "caffe":
            x = x.flip(1)  # RGB -> BGR
        return x

    def forward(self, image: Tensor) -> dict[str, Tensor]:
        if image.dim() != 4 or image.shape[1] != 3:
            raise ValueError(f"VGGFeatures expects (B, 3, H, W) images, got {tuple(image.shape)}")
        x = self.normalize(image).to(self.features[0].weight.dtype)  # (B, 3, H, W)
        out: dict[str, Tensor] = {}
        wanted = set(self.layers)
        for name, layer in zip(self._names, self.features):
            x = layer(x)
            if name in wanted:
                out[name] = x.to(image.dtype)
        return out


def load_weights(arch: Arch, weights: str, *, progress: bool = False) -> tuple[dict[str, Tensor] | None, Preprocess]:
    """Resolve ``weights`` to a state dict in our layout and its preprocessing convention.

    Args:
        arch: ``"vgg16"`` or ``"vgg19"``.
        weights: ``"imagenet"`` (torchvision's weights, downloaded and cached by torchvision in
            ``torch.hub.get_dir()/checkpoints`` on first use), ``"random"`` (seeded random
            weights: for tests and offline smoke runs, not artistic), or a path to a ``.pth``.

    Returns:
        ``(state_dict or None for random, preprocess)``.
    """
    if weights == "random":
        return None, "torchvision"
    if weights == "imagenet":
        import torchvision

        enum = {"vgg16": torchvision.models.VGG16_Weights, "vgg19": torchvision.models.VGG19_Weights}[arch]
        entry = enum.IMAGENET1K_V1
        cache = Path(torch.hub.get_dir()) / "checkpoints" / Path(entry.url).name
        import contextlib
        import io
        import sys

        said = io.StringIO()  # torch.hub's "Downloading: ..." line (stdout): shown if it worked
        try:
            with contextlib.redirect_stdout(said if not progress else sys.stdout):
                state = entry.get_state_dict(progress=progress)
            sys.stderr.write(said.getvalue())
        except Exception as exc:  # no network, proxy, corrupt cache...
            raise ValueError(
                f"could not get torchvision's ImageNet-trained {arch} ({type(exc).__name__}: "
                f"{' '.join(str(exc).split())[:120]}). torchvision downloads the file from "
                f"{entry.url} into {cache} on first use; with no network, copy that file there, "
                f"or pass weights PATH.pth, a local file (torchvision layout or a "
                f"Caffe-converted VGG such as {_CAFFE_FILES[0 if arch == 'vgg19' else 1]}.pth)"
            ) from None
        return convert_state_dict(state, arch), "torchvision"
    path = Path(weights)
    if not path.exists():
        raise FileNotFoundError(f"weights file not found: {path} (use imagenet, random or a "
                                ".pth path)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ValueError(f"cannot read weights file {path}: {' '.join(str(exc).split())[:160]}") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, Tensor) for v in state.values()):
        raise ValueError(f"weights file {path} does not hold a state dict of tensors")
    return convert_state_dict(state, arch), detect_preprocess(state, str(path))
