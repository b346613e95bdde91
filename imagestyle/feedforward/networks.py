"""Feed-forward generators: Johnson et al.'s transform network and Ulyanov et al.'s texture network.

Both map images in [0, 1] (or noise) to RGB images ``(B, 3, H, W)`` whose values are meant to
lie in [0, 1]; they are not clamped inside the network (the loss network sees the raw output,
as in pytorch/examples' ``fast_neural_style``), so clamp before saving. The last convolution's
bias starts at 0.5, so an untrained network outputs mid-grey rather than black, which shortens
the first phase of training.

Any input size works: inputs are padded internally (reflection, or replication where the input
is too small to reflect) to a size the down/upsampling path accepts, and the output is cropped
back, so the output always has the input's height and width.

Every module here is TorchScript-scriptable (``torch.jit.script``) so exported models keep the
"any size" property.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import List, Literal, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

Norm = Literal["instance", "batch"]
NORMS = ("instance", "batch")


def pad_to_multiple(x: Tensor, multiple: int, minimum: int) -> Tuple[Tensor, int, int]:
    """Pad ``x`` ``(B, C, H, W)`` on the bottom/right so H and W are multiples of ``multiple``
    and at least ``minimum`` (``minimum`` must be a multiple of ``multiple``, ``>= 2 * multiple``).

    Inputs smaller than ``minimum`` are first extended by replication, then every input is
    reflection-padded up to the next multiple. The code has no data-dependent branch, so traced
    and exported graphs (ONNX) stay valid for every input size.

    Returns:
        ``(padded (B, C, H', W'), H, W)``: the padded tensor and the original height and width.
    """
    h = x.shape[-2]
    w = x.shape[-1]
    x = F.pad(x, [0, max(0, minimum - w), 0, max(0, minimum - h)], mode="replicate")
    h1 = x.shape[-2]
    w1 = x.shape[-1]
    x = F.pad(x, [0, (multiple - w1 % multiple) % multiple, 0, (multiple - h1 % multiple) % multiple],
              mode="reflect")
    return x, h, w


def make_norm(kind: str, channels: int) -> nn.Module:
    """Instance norm (Ulyanov, Vedaldi & Lempitsky 2016; affine) or batch norm."""
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    raise ValueError(f"norm must be one of {NORMS}, got {kind!r}")


class ConvLayer(nn.Sequential):
    """Reflection-padded convolution: ``(B, C_in, H, W) -> (B, C_out, H / stride, W / stride)``."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1) -> None:
        super().__init__(
            nn.ReflectionPad2d(kernel // 2),
            nn.Conv2d(c_in, c_out, kernel, stride=stride),
        )


class ResidualBlock(nn.Module):
    """conv3-norm-ReLU-conv3-norm plus identity (Johnson et al. 2016, supplementary; He et al.)."""

    def __init__(self, channels: int, norm: str) -> None:
        super().__init__()
        self.body = nn.Sequential(
            ConvLayer(channels, channels, 3),
            make_norm(norm, channels),
            nn.ReLU(),
            ConvLayer(channels, channels, 3),
            make_norm(norm, channels),
        )

    def forward(self, x: Tensor) -> Tensor:
        """``(B, C, H, W) -> (B, C, H, W)``."""
        return x + self.body(x)


class UpsampleConv(nn.Module):
    """Nearest-neighbour x2 upsampling then a 3x3 convolution (avoids checkerboard artefacts;
    Odena et al. 2016). ``(B, C_in, H, W) -> (B, C_out, 2H, 2W)``."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv = ConvLayer(c_in, c_out, 3)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


@dataclass
class TransformNetConfig:
    """Hyper-parameters of :class:`TransformNet`."""

    norm: str = "instance"  # "instance" (Ulyanov et al. 2016; the default) or "batch"
    width: float = 1.0  # channel multiplier: 1.0 gives the paper's 32-64-128 channels
    residual_blocks: int = 5  # number of residual blocks at 1/4 resolution

    def channels(self) -> tuple[int, int, int]:
        """Channel counts of the three resolutions (paper: 32, 64, 128)."""
        return tuple(max(1, round(c * self.width)) for c in (32, 64, 128))  # type: ignore[return-value]

    def validate(self) -> None:
        if self.norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}, got {self.norm!r}")
        if not (self.width > 0) or self.width > 16:
            raise ValueError(f"width multiplier must be in (0, 16], got {self.width}")
        if self.residual_blocks < 0:
            raise ValueError(f"residual_blocks must be >= 0, got {self.residual_blocks}")


class TransformNet(nn.Module):
    """The image transformation network of Johnson, Alahi & Fei-Fei (2016), "Perceptual losses
    for real-time style transfer and super-resolution".

    9x9 conv 3->32, 3x3 stride-2 convs 32->64->128, five residual blocks of 128 channels, two
    (nearest x2 + 3x3 conv) upsamplings 128->64->32, 9x9 conv 32->3; reflection padding;
    norm + ReLU after every conv but the last.

    .. note::
        The paper upsamples with stride-1/2 transposed convolutions; nearest-neighbour upsampling
        followed by a convolution (as in pytorch/examples' ``fast_neural_style``) avoids their
        checkerboard artefacts. Instance norm replaces the paper's batch norm by default
        (Ulyanov et al. 2016 showed it is better); ``norm="batch"`` restores the paper's.

    Input ``(B, 3, H, W)`` RGB in [0, 1], any H and W; output ``(B, 3, H, W)``.
    """

    def __init__(self, config: Optional[TransformNetConfig] = None) -> None:
        super().__init__()
        config = config or TransformNetConfig()
        config.validate()
        self.config = config
        c1, c2, c3 = config.channels()
        norm = config.norm
        self.down = nn.Sequential(
            ConvLayer(3, c1, 9), make_norm(norm, c1), nn.ReLU(),
            ConvLayer(c1, c2, 3, stride=2), make_norm(norm, c2), nn.ReLU(),
            ConvLayer(c2, c3, 3, stride=2), make_norm(norm, c3), nn.ReLU(),
        )
        self.residuals = nn.Sequential(*[ResidualBlock(c3, norm) for _ in range(config.residual_blocks)])
        self.up = nn.Sequential(
            UpsampleConv(c3, c2), make_norm(norm, c2), nn.ReLU(),
            UpsampleConv(c2, c1), make_norm(norm, c1), nn.ReLU(),
            ConvLayer(c1, 3, 9),
        )
        nn.init.constant_(self.up[-1][1].bias, 0.5)  # start from mid-grey, not black

    def forward(self, x: Tensor) -> Tensor:
        """``(B, 3, H, W) -> (B, 3, H, W)``."""
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"TransformNet expects (B, 3, H, W) images, got {list(x.shape)}")
        # Two stride-2 stages: multiples of 4; the 1/4-resolution map must be >= 2 to reflect-pad.
        padded, h, w = pad_to_multiple(x, 4, 8)
        y = self.up(self.residuals(self.down(padded)))  # (B, 3, H', W')
        return y[:, :, :h, :w]


@dataclass
class TextureNetConfig:
    """Hyper-parameters of :class:`TextureNet`."""

    mode: str = "stylize"  # "stylize" (noise + content at every scale) or "texture" (noise only)
    scales: int = 6  # pyramid levels, each half the previous resolution (paper: 5-6)
    channels: int = 8  # channels of each scale's conv block (paper: 8)
    noise_channels: int = 3  # noise channels fed at each scale
    norm: str = "batch"  # "batch" (the paper's) or "instance"

    def validate(self) -> None:
        if self.mode not in ("stylize", "texture"):
            raise ValueError(f"mode must be 'stylize' or 'texture', got {self.mode!r}")
        if not 1 <= self.scales <= 10:
            raise ValueError(f"scales must be between 1 and 10, got {self.scales}")
        if self.channels < 1 or self.noise_channels < 1:
            raise ValueError("channels and noise_channels must be >= 1")
        if self.norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}, got {self.norm!r}")

    @property
    def multiple(self) -> int:
        """Input sizes are padded to a multiple of this (the coarsest scale's stride)."""
        return 2 ** (self.scales - 1)


class ConvBlock(nn.Sequential):
    """conv3x3-norm-LeakyReLU, conv3x3-norm-LeakyReLU, conv1x1-norm-LeakyReLU (Ulyanov et al.
    2016, fig. 2). ``(B, C_in, H, W) -> (B, C_out, H, W)``."""

    def __init__(self, c_in: int, c_out: int, norm: str) -> None:
        layers: list[nn.Module] = []
        for i, k in enumerate((3, 3, 1)):
            layers += [
                ConvLayer(c_in if i == 0 else c_out, c_out, k),
                make_norm(norm, c_out),
                nn.LeakyReLU(0.01),
            ]
        super().__init__(*layers)


class TextureNet(nn.Module):
    """The multi-scale generator of Ulyanov, Lebedev, Vedaldi & Lempitsky (2016), "Texture
    networks: feed-forward synthesis of textures and stylized images".

    Scale ``k`` (0 finest, ``K-1`` coarsest, resolution ``1/2^k``) takes its own noise
    (texture mode) or its noise concatenated with the content downsampled to that scale
    (stylise mode), through a conv3-conv3-conv1 block of ``channels`` channels. Going from
    coarse to fine, the running map is upsampled x2 (nearest), normalised, and concatenated with
    the normalised output of the finer scale's block; a conv block on the joined channels follows.
    A final 1x1 conv gives RGB.

    Noise: the network takes one noise tensor ``(B, K * noise_channels, H, W)``; scale ``k``
    uses channels ``[k * n, (k + 1) * n)`` subsampled with stride ``2^k``, so every scale gets
    independent unit-variance noise and a single tensor fully seeds a sample (convenient for
    seeding and export).

    .. note::
        The original joins the scales in Torch with "join" blocks of batch norm; we keep batch norm
        as the default and offer instance norm. Downsampling of the content is average pooling.
    """

    def __init__(self, config: Optional[TextureNetConfig] = None) -> None:
        super().__init__()
        config = config or TextureNetConfig()
        config.validate()
        self.config = config
        self.scales = config.scales
        self.noise_channels = config.noise_channels
        self.stylize_mode = config.mode == "stylize"
        ch, norm = config.channels, config.norm
        c_in = config.noise_channels + (3 if self.stylize_mode else 0)
        self.inputs = nn.ModuleList([ConvBlock(c_in, ch, norm) for _ in range(config.scales)])
        # Joins, coarse to fine: after joining scale k the map has ch * (K - k) channels.
        self.join_norm_coarse = nn.ModuleList()
        self.join_norm_fine = nn.ModuleList()
        self.join_blocks = nn.ModuleList()
        for k in range(config.scales - 2, -1, -1):
            coarse = ch * (config.scales - 1 - k)
            self.join_norm_coarse.append(make_norm(norm, coarse))
            self.join_norm_fine.append(make_norm(norm, ch))
            self.join_blocks.append(ConvBlock(coarse + ch, coarse + ch, norm))
        self.to_rgb = nn.Conv2d(ch * config.scales, 3, 1)
        nn.init.constant_(self.to_rgb.bias, 0.5)  # start from mid-grey, not black

    def noise_shape(self, batch: int, height: int, width: int) -> Tuple[int, int, int, int]:
        """Shape of the noise tensor for an output of ``height x width``."""
        return (batch, self.scales * self.noise_channels, height, width)

    def forward(self, noise: Tensor, content: Optional[Tensor] = None) -> Tensor:
        """Generate images.

        Args:
            noise: ``(B, K * noise_channels, H, W)``, standard normal.
            content: ``(B, 3, H, W)`` RGB in [0, 1] in stylise mode; ``None`` in texture mode.

        Returns:
            ``(B, 3, H, W)``.
        """
        if noise.dim() != 4 or noise.shape[1] != self.scales * self.noise_channels:
            raise ValueError(
                f"TextureNet expects noise of shape (B, {self.scales * self.noise_channels}, H, W), "
                f"got {list(noise.shape)}"
            )
        multiple = 1 << (self.scales - 1)
        padded_noise, h, w = pad_to_multiple(noise, multiple, 2 * multiple)
        padded_content: Optional[Tensor] = None
        if self.stylize_mode:
            if content is None:
                raise ValueError("this texture network is a stylisation network: pass content")
            if content.dim() != 4 or content.shape[1] != 3 or content.shape[-2:] != noise.shape[-2:]:
                raise ValueError(
                    f"content must be (B, 3, H, W) with the noise's H and W, got {list(content.shape)}"
                )
            padded_content, _, _ = pad_to_multiple(content, multiple, 2 * multiple)
        elif content is not None:
            raise ValueError("this texture network samples textures: it takes no content")

        features: List[Tensor] = []
        n = self.noise_channels
        for k, block in enumerate(self.inputs):
            step = 1 << k
            z = padded_noise[:, k * n:(k + 1) * n, ::step, ::step]  # (B, n, H'/2^k, W'/2^k)
            if padded_content is not None:
                c = padded_content if k == 0 else F.avg_pool2d(padded_content, step)
                z = torch.cat([z, c], dim=1)  # (B, n + 3, H'/2^k, W'/2^k)
            features.append(block(z))

        y = features[self.scales - 1]
        i = 0
        for norm_coarse, norm_fine, join in zip(self.join_norm_coarse, self.join_norm_fine, self.join_blocks):
            k = self.scales - 2 - i
            up = F.interpolate(y, scale_factor=2.0, mode="nearest")
            y = join(torch.cat([norm_coarse(up), norm_fine(features[k])], dim=1))
            i += 1
        out = self.to_rgb(y)  # (B, 3, H', W')
        return out[:, :, :h, :w]


Arch = Literal["johnson", "texture-net"]
ARCHS = ("johnson", "texture-net")


def build_network(arch: str, config: dict) -> nn.Module:
    """Build a generator from its architecture name and config dict (as stored in model files)."""
    if arch == "johnson":
        return TransformNet(TransformNetConfig(**config))
    if arch == "texture-net":
        return TextureNet(TextureNetConfig(**config))
    raise ValueError(f"arch must be one of {ARCHS}, got {arch!r}")


def network_config(net: nn.Module) -> dict:
    """The config dict of a generator built by :func:`build_network`."""
    return asdict(net.config)  # type: ignore[arg-type]


def generator_mode(net: nn.Module) -> str:
    """``"stylize"`` for networks that stylise an image, ``"texture"`` for samplers."""
    if isinstance(net, TextureNet) and not net.stylize_mode:
        return "texture"
    return "stylize"


def run_generator(net: nn.Module, content: Optional[Tensor] = None, *, noise: Optional[Tensor] = None,
                  generator: Optional[torch.Generator] = None) -> Tensor:
    """Run either generator on content (stylise) or noise (texture), drawing noise if needed.

    Args:
        net: A :class:`TransformNet` or :class:`TextureNet`.
        content: ``(B, 3, H, W)`` for stylisation networks.
        noise: ``(B, K * n, H, W)`` for texture networks; drawn from ``generator`` when ``None``
            (texture-net stylisation draws its own noise the same way).
        generator: Source of noise (CPU generator; the noise is moved to the content's device).

    Returns:
        ``(B, 3, H, W)``.
    """
    if isinstance(net, TextureNet):
        if noise is None:
            if content is None:
                raise ValueError("texture sampling needs noise or content to fix the size")
            b, _, h, w = content.shape
            noise = torch.randn(net.noise_shape(b, h, w), generator=generator).to(
                device=content.device, dtype=content.dtype
            )
        return net(noise, content)
    if content is None:
        raise ValueError("a transform network needs content")
    return net(content)
