"""Style transfer and texture synthesis by optimising the pixels (Gatys, Ecker & Bethge).

* :func:`stylize`: Gatys et al. (2016), "Image style transfer using convolutional neural
  networks", with the defaults of the most-used reference, jcjohnson/neural-style (VGG-19,
  content ``relu4_2``, style ``relu1_1`` ... ``relu5_1``, content weight 5, style weight 100,
  TV weight 1e-3, 512 px, 1000 L-BFGS iterations, Gram divided by ``C*H*W``, mean-squared
  losses, several styles blended with weights normalised to sum to 1, ``style_scale``).
* :func:`synthesize_texture`: Gatys et al. (2015), "Texture synthesis using convolutional
  neural networks": the same optimisation with the style term only, from noise, at any size.
* Colour preservation (Gatys, Bethge, Hertzmann & Shechtman 2016): ``"luminance"`` (transfer
  on the luminance, then restore the content's chrominance) and ``"histogram"`` (give the
  styles the content's colour mean and covariance first).
* Coarse-to-fine (``scales``): solve at 1/2^(n-1), ..., 1/2, 1 of the size, each level starting
  from the upsampled result of the previous one.

Everything runs through :func:`shared.optimize` (the one loop) and
:class:`shared.StyleContentObjective`; target features and Grams are computed once per level.

.. note:: **Precision** (``precision="bf16"``). The feature network's weights are cast to
   bfloat16 once and its layers run in bfloat16 (the image is normalised in float32, then
   cast); its features come back as float32, so the Grams, the losses, the image variable and
   L-BFGS's memory (:func:`shared.optimize`) stay float32. Targets come from the same
   bfloat16 network, so a style can be matched exactly. The same path runs on the CPU and on
   CUDA (autocast would do the same arithmetic there). Weights cast once were the fastest
   variant, or within noise of it, against ``torch.autocast`` (which casts the frozen weights
   again on every call) and channels-last, for VGG-19 and random-multiscale at 128 and
   256 px. Gram matrices in bfloat16 would put rounding noise of 2^-9 of each entry into
   ``G - target``, which near convergence is itself that small: they stay float32. On whole
   runs bf16's final loss was not within 1 % of float32's on every case (L-BFGS paths part
   ways after a few steps), so ``"fp32"`` is the default (``docs/images.md``, "Precision").

.. note::
   Departures from jcjohnson/neural-style, all to keep its weights meaning the same thing here:

   * The image variable is RGB in [0, 1] and the network preprocesses it inside, so losses
     would be ``feature_scale**2`` (content) and ``feature_scale**4`` (style) smaller than with
     the Caffe inputs (0-255) the reference's weights were tuned for, which also stalls L-BFGS
     (its curvature test ``y.s > 1e-10`` fails on tiny losses). The weights are multiplied by
     those factors instead (``feature_scale``: 1 for Caffe preprocessing, 255 x 0.226 ~ 57.8
     when inputs are divided by the ImageNet standard deviation, as for torchvision's weights,
     and 578 for ``random-multiscale``, calibrated by eye), so the reported losses have the
     reference's magnitudes.
   * The reference's TV term is ``tv_weight / 2 * sum`` of squared neighbour differences of the
     0-255 image (what its ``TVLoss`` gradient integrates to); it is computed exactly so, with
     :func:`shared.tv_loss` (``"sum"``) on the [0, 1] image times ``255**2``.
   * ``init="noise"``: the reference's ``randn * 0.001`` is in 0-255 units around the ImageNet
     mean; here it is ``noise_std`` (default 1e-3, in [0, 1] units) around the mean colour of
     the content (transfer) or style (texture), which breaks symmetry as well.
   * Coarse-to-fine runs ``iterations`` at every level (the reference has no such option).
   * L-BFGS uses a strong-Wolfe line search by default (``line_search=None`` gives the
     reference's fixed unit step). PyTorch's fixed-step L-BFGS crawls on these objectives: on
     a 32 px texture it kept 28 % of the initial loss after 20 iterations where the line search
     kept 0.6 %, at about 1.25 loss evaluations per iteration.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field, replace
from typing import Callable, Literal, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from shared import (
    LossTerms,
    OptimConfig,
    OptimResult,
    StyleContentObjective,
    normalize_blend_weights,
    optimize,
    release_freed_memory,
    retain_freed_memory,
    select_device,
)
from shared.device import compute_dtype

from .color import gray_to_rgb, luminance, match_color_histogram, match_luminance_stats, restore_chrominance
from .features import DEFAULT_LAYERS, build_extractor, feature_layout
from .imageio import check_size, image_size, scaled_size, target_size
from .memory import check_memory

PreserveColor = Literal["luminance", "histogram"]
Snapshot = Callable[[int, int, Tensor], None]  # (level, iteration, RGB image (1, 3, H, W))

CAFFE_FEATURE_SCALE = 1.0
STD_FEATURE_SCALE = 255.0 * 0.226  # 255 x the mean ImageNet std: [0, 1]/std inputs -> 0-255
# Unit-norm random filters respond about 10x more weakly than VGG's Caffe-scale features: with
# 10 x STD_FEATURE_SCALE, neural-style's weights (5, 100, 1e-3) give random-multiscale transfer
# a balance like VGG's (measured: chelsea x immunohistochemistry at 128 px; with the plain
# factor the content and TV terms swamp the style and the result is a blurred photo).
MULTISCALE_FEATURE_SCALE = 10 * STD_FEATURE_SCALE


@dataclass
class GatysConfig:
    """Settings of :func:`stylize` and :func:`synthesize_texture` (jcjohnson/neural-style's
    defaults)."""

    model: str = "vgg19"  # "vgg19", "vgg16" or "random-multiscale"
    weights: str = "imagenet"  # VGG weights: "imagenet", "random" or a .pth path
    pooling: str = "max"  # VGG pooling: "max" or "avg"
    preprocess: str | None = None  # "torchvision" or "caffe"; None = the weights' own
    content_layers: Sequence[str] | None = None  # None = DEFAULT_LAYERS[model].content
    style_layers: Sequence[str] | None = None  # None = DEFAULT_LAYERS[model].style
    content_layer_weights: Mapping[str, float] | None = None  # per-layer weights (default 1)
    style_layer_weights: Mapping[str, float] | None = None  # per-layer weights (default 1)
    content_weight: float = 5.0  # weight of the content term
    style_weight: float = 100.0  # weight of the style term
    tv_weight: float = 1e-3  # weight of the total-variation term
    style_blend_weights: Sequence[float] | None = None  # one per style; normalised to sum 1
    style_scale: float = 1.0  # style images' longest side = style_scale x output's
    size: int | tuple[int, int] = 512  # N: longest side (content's / 1st style's aspect); (W, H)
    scales: int = 1  # coarse-to-fine levels (each half the size of the next)
    iterations: int = 1000  # optimiser iterations per level
    optimizer: Literal["lbfgs", "adam"] = "lbfgs"  # the reference uses L-BFGS
    lr: float | None = None  # None: 1 for L-BFGS, 10/255 for Adam (neural-style's 10 on 0-255)
    history_size: int = 100  # L-BFGS history (neural-style's default)
    line_search: Literal["strong_wolfe"] | None = "strong_wolfe"  # L-BFGS line search
    init: str | Tensor = "noise"  # "noise", "content" or an RGB image tensor (1, 3, H, W)
    noise_std: float = 1e-3  # std of the noise init, in [0, 1] pixel units
    preserve_color: PreserveColor | None = None  # "luminance", "histogram" or None
    feature_scale: float | None = None  # None: from the preprocessing (see the module note)
    seed: int = 0  # seeds the noise init and random weights
    precision: Literal["fp32", "bf16"] = "fp32"  # the feature network's arithmetic (module note)
    device: str | torch.device = "auto"  # "auto", "cpu", "cuda", "cuda:N"
    check_memory: bool = True  # refuse sizes that will not fit in memory, before starting
    quiet: bool = False  # no progress bar

    def __post_init__(self) -> None:
        for name in ("content_weight", "style_weight", "tv_weight"):
            value = getattr(self, name)
            if not (value >= 0 and math.isfinite(value)):
                raise ValueError(f"{name} must be finite and >= 0, got {value}")
        if not (self.style_scale > 0 and math.isfinite(self.style_scale)):
            raise ValueError(f"style_scale must be positive, got {self.style_scale}")
        check_size(self.size)  # ValueError naming size
        if int(self.scales) != self.scales or self.scales < 1:
            raise ValueError(f"scales must be a positive integer, got {self.scales}")
        if int(self.iterations) != self.iterations or self.iterations < 0:
            raise ValueError(f"iterations must be a non-negative integer, got {self.iterations}")
        if self.lr is not None and not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"lr must be positive, got {self.lr}")
        if self.line_search not in (None, "strong_wolfe"):
            raise ValueError(f"line_search must be strong_wolfe or None, got {self.line_search!r}")
        if self.optimizer not in ("lbfgs", "adam"):
            raise ValueError(f"optimizer must be lbfgs or adam, got {self.optimizer!r}")
        if self.preserve_color not in (None, "luminance", "histogram"):
            raise ValueError(f"preserve_color must be luminance or histogram, got "
                             f"{self.preserve_color!r}")
        if isinstance(self.init, str) and self.init not in ("noise", "content"):
            raise ValueError(f"init must be noise, content or an image, got {self.init!r}")
        compute_dtype(self.precision)  # ValueError naming precision
        if not (self.noise_std >= 0 and math.isfinite(self.noise_std)):
            raise ValueError(f"noise_std must be finite and >= 0, got {self.noise_std}")


@dataclass
class GatysResult:
    """What :func:`stylize` and :func:`synthesize_texture` return.

    Attributes:
        image: The result, RGB ``(1, 3, H, W)`` in [0, 1] on the CPU (colours restored).
        levels: One :class:`shared.OptimResult` per coarse-to-fine level, coarsest first.
        sizes: The ``(W, H)`` of each level.
    """

    image: Tensor
    levels: list[OptimResult] = field(default_factory=list)
    sizes: list[tuple[int, int]] = field(default_factory=list)

    @property
    def loss(self) -> float:
        """Final loss of the finest level."""
        return self.levels[-1].loss if self.levels else float("nan")


def resize(image: Tensor, size: tuple[int, int]) -> Tensor:
    """Resize ``(B, 3, H, W)`` to ``size = (W, H)`` (bicubic, antialiased when shrinking)."""
    w, h = size
    if tuple(image.shape[-2:]) == (h, w):
        return image
    shrink = h < image.shape[-2] or w < image.shape[-1]
    return F.interpolate(image, size=(h, w), mode="bicubic", align_corners=False,
                         antialias=shrink).clamp(0, 1)


def level_sizes(size: tuple[int, int], scales: int, minimum: int = 16) -> list[tuple[int, int]]:
    """Coarse-to-fine sizes ``(W, H)``: ``size / 2^(scales-1)``, ..., ``size`` (at least
    ``minimum`` px on the short side)."""
    w, h = size
    out = []
    for i in range(scales - 1, -1, -1):
        f = 2.0 ** -i
        s = max(f, minimum / min(w, h)) if min(w, h) > minimum else 1.0
        out.append(scaled_size(size, s))
    return out


def feature_scale_for(model: str, preprocess: str | None) -> float:
    """The factor that brings features to the Caffe 0-255 input scale the reference weights
    assume: 1 for Caffe preprocessing, 255 x 0.226 for inputs divided by the ImageNet std
    (torchvision's weights), 10 times that for ``random-multiscale`` (see
    :data:`MULTISCALE_FEATURE_SCALE`)."""
    if model == "random-multiscale":
        return MULTISCALE_FEATURE_SCALE
    return CAFFE_FEATURE_SCALE if preprocess == "caffe" else STD_FEATURE_SCALE


MULTISCALE_MAX_FRACTION = 0.25  # default random-multiscale filters: <= 1/4 of the style's side


def multiscale_style_layers(style_short_side: int) -> list[str]:
    """Default style layers of ``random-multiscale`` for a style image whose short side is
    ``style_short_side`` px (at the resolution it is matched at): the scales no wider than a
    quarter of it, and at least ``scale3``, ``scale5``, ``scale7``.

    Filters comparable with the image leave so few independent positions that matching their
    Grams pins the source's layout down, and the "texture" becomes a shifted copy of the source
    (the quality/variability trade-off of Ustyuzhaninov et al. 2017). Measured on 128 px crops
    (:func:`imagestyle.metrics.copy_score`, 1 = copy): all eight scales gave 0.84 on cat fur,
    scales up to 23 px gave 0.30 at similar held-out quality; other crops of the same photo
    score 0.15-0.23.
    """
    from .random_multiscale import KERNEL_SIZES, layer_name

    keep = [k for k in KERNEL_SIZES if k <= MULTISCALE_MAX_FRACTION * style_short_side]
    keep = keep if len(keep) >= 3 else list(KERNEL_SIZES[:3])
    return [layer_name(k) for k in keep]


def _layer_lists(cfg: GatysConfig, texture: bool, style_short_side: int
                 ) -> tuple[list[str], list[str]]:
    defaults = DEFAULT_LAYERS.get(cfg.model)
    if defaults is None:
        raise ValueError(f"unknown model {cfg.model!r}; choose one of {', '.join(DEFAULT_LAYERS)}")
    content = [] if texture else list(cfg.content_layers or defaults.content)
    if cfg.style_layers:
        style = list(cfg.style_layers)
    elif cfg.model == "random-multiscale":
        style = multiscale_style_layers(style_short_side)
    else:
        style = list(defaults.style)
    if not style and not content:
        raise ValueError("no content_layers or style_layers were given")
    return content, style


def _build(cfg: GatysConfig, layers: Sequence[str], device: torch.device) -> nn.Module:
    with warnings.catch_warnings():
        if cfg.quiet:
            warnings.simplefilter("ignore")
        return build_extractor(cfg.model, layers, weights=cfg.weights, pooling=cfg.pooling,
                               preprocess=cfg.preprocess, seed=cfg.seed, device=device,
                               precision=cfg.precision)


def _prepare_styles(styles: Sequence[Tensor], cfg: GatysConfig, color_ref: Tensor | None
                    ) -> list[Tensor]:
    out = []
    for s in styles:
        if cfg.preserve_color == "histogram" and color_ref is not None:
            s = match_color_histogram(s, color_ref).clamp(0, 1)
        elif cfg.preserve_color == "luminance":
            y = luminance(s)
            if color_ref is not None:
                y = match_luminance_stats(y, luminance(color_ref))
            s = gray_to_rgb(y.clamp(0, 1))
        out.append(s)
    return out


def _check_images(images: Sequence[Tensor], what: str) -> None:
    for img in images:
        if not isinstance(img, Tensor) or img.dim() != 4 or img.shape[:2] != (1, 3):
            raise ValueError(f"{what} must be RGB tensors of shape (1, 3, H, W), got "
                             f"{getattr(img, 'shape', type(img).__name__)}")


@dataclass
class _Problem:
    """What every level of one run shares: the network, the layers and the term weights."""

    extractor: nn.Module  # the feature network, on the device
    content_layers: list[str]  # layers of the content term (none for textures)
    style_layers: list[str]  # layers of the style term
    style_sizes: list[tuple[int, int]]  # each style's (W, H) at the finest level
    blend: list[float]  # the styles' blend weights, summing to 1
    feature_scale: float  # brings the weights to the reference's scale (module note)
    device: torch.device


def _check_layer_weights(cfg: GatysConfig, content_layers: Sequence[str],
                         style_layers: Sequence[str]) -> None:
    for what, weights, names in (("content", cfg.content_layer_weights, content_layers),
                                 ("style", cfg.style_layer_weights, style_layers)):
        extra = sorted(set(weights or {}) - set(names))
        if extra:
            raise ValueError(f"{what}_layer_weights name layers that are not {what}_layers: "
                             f"{', '.join(extra)}")


def _set_up(cfg: GatysConfig, texture: bool, styles: Sequence[Tensor],
            out_size: tuple[int, int]) -> _Problem:
    """Choose the layers, check the settings and the memory, build the network."""
    if cfg.style_weight == 0 and (texture or cfg.content_weight == 0):
        raise ValueError("style_weight is 0" + ("" if texture else " and so is content_weight")
                         + ": there is nothing to optimise")
    device = select_device(cfg.device)
    style_longest = max(1, round(cfg.style_scale * max(out_size)))
    style_sizes = [target_size(image_size(s), style_longest) for s in styles]
    content_layers, style_layers = _layer_lists(cfg, texture,
                                                min(min(wh) for wh in style_sizes))
    layers = list(dict.fromkeys(content_layers + style_layers))
    blend = normalize_blend_weights(len(styles), cfg.style_blend_weights)
    _check_layer_weights(cfg, content_layers, style_layers)
    extractor = _build(cfg, layers, device)
    fscale = cfg.feature_scale or feature_scale_for(cfg.model,
                                                    getattr(extractor, "preprocess", None))
    return _Problem(extractor, content_layers, style_layers, style_sizes, list(blend), fscale,
                    device)


def _check_fits(cfg: GatysConfig, texture: bool, styles: Sequence[Tensor],
                out_size: tuple[int, int]) -> None:
    """Refuse a run that will not fit in memory (``ValueError`` naming the size that would),
    before any image is resized or any network built."""
    if not cfg.check_memory:
        return
    style_longest = max(1, round(cfg.style_scale * max(out_size)))
    style_sizes = [target_size(image_size(s), style_longest) for s in styles]
    content_layers, style_layers = _layer_lists(cfg, texture, min(min(wh) for wh in style_sizes))
    layers = list(dict.fromkeys(content_layers + style_layers))
    grams = [feature_layout(cfg.model).channels(n) for n in style_layers]
    check_memory(cfg.model, layers, out_size, select_device(cfg.device),
                 optimizer=cfg.optimizer, history_size=min(cfg.history_size, int(cfg.iterations)),
                 gram_channels=grams,
                 style_pixels=sum(w * h for w, h in style_sizes))


def _optim_config(cfg: GatysConfig) -> OptimConfig:
    """The settings of :func:`shared.optimize` (neural-style's step sizes by default)."""
    return OptimConfig(
        optimizer=cfg.optimizer, iterations=int(cfg.iterations), history_size=cfg.history_size,
        line_search=cfg.line_search if cfg.optimizer == "lbfgs" else None,
        lr=cfg.lr if cfg.lr is not None else (None if cfg.optimizer == "lbfgs" else 10 / 255),
    )


def _level_objective(cfg: GatysConfig, problem: _Problem, content: Tensor | None,
                     styles: Sequence[Tensor], size: tuple[int, int], shrink: float
                     ) -> StyleContentObjective:
    """The objective of one level: the content at ``size = (W, H)``, the styles at their
    sizes times ``shrink``; targets computed once."""
    net, fscale = problem.extractor, problem.feature_scale
    with torch.no_grad():
        style_feats = [net(resize(s, scaled_size(ssize, shrink)).to(problem.device))
                       for s, ssize in zip(styles, problem.style_sizes)]
        content_feats = (net(resize(content, size).to(problem.device))
                         if content is not None else None)
    return StyleContentObjective.from_features(
        content_feats, style_feats, content_layers=problem.content_layers,
        style_layers=problem.style_layers, style_blend_weights=problem.blend,
        gram_normalize="channels_positions", reduction="mean",
        content_weight=cfg.content_weight * fscale**2,
        style_weight=cfg.style_weight * fscale**4,
        tv_weight=cfg.tv_weight * 255.0**2 / 2,  # neural-style's TV on the 0-255 image
        tv_reduction="sum",
        content_layer_weights=cfg.content_layer_weights,
        style_layer_weights=cfg.style_layer_weights,
    ).to(problem.device)


def _optimise_levels(
    cfg: GatysConfig,
    content: Tensor | None,
    styles: Sequence[Tensor],
    out_size: tuple[int, int],
    start: Tensor,
    snapshot: Snapshot | None,
    snapshot_every: int,
    finish: Callable[[Tensor], Tensor],
) -> GatysResult:
    """Shared by transfer and texture: set up, then optimise each level from the previous
    level's result (upsampled); an interrupted level ends the run at the full size."""
    texture = content is None
    problem = _set_up(cfg, texture, styles, out_size)
    sizes = level_sizes(out_size, cfg.scales)
    optim = _optim_config(cfg)
    result = GatysResult(image=start)
    x = start.to(problem.device)
    for level, size in enumerate(sizes):
        objective = _level_objective(cfg, problem, content, styles, size,
                                     size[0] / out_size[0])
        if level > 0:  # the previous level's result, upsampled, starts this one
            x = F.interpolate(x, size=size[::-1], mode="bicubic", align_corners=False)

        def loss_fn(v: Tensor, objective: StyleContentObjective = objective) -> LossTerms:
            return objective(problem.extractor(v), image=v)

        callback = None
        if snapshot is not None and snapshot_every > 0:
            def callback(it: int, v: Tensor, _loss: float, level: int = level) -> None:
                snapshot(level, it, finish(v.clamp(0, 1).cpu()))

        desc = f"{'texture' if texture else 'transfer'} {size[0]}x{size[1]}"
        if len(sizes) > 1:
            desc += f" ({level + 1}/{len(sizes)})"
        retain_freed_memory()  # each evaluation allocates the same large buffers: keep them
        res = optimize(x, loss_fn, optim, callback=callback, callback_every=snapshot_every,
                       quiet=cfg.quiet, desc=desc)
        release_freed_memory()  # the next level's buffers are of other sizes
        result.levels.append(res)
        result.sizes.append(size)
        x = res.variable
        if res.interrupted:
            break
    x = resize(x.detach(), sizes[-1])  # interrupted at a coarse level: still give the full size
    result.image = finish(x.clamp(0, 1).cpu())
    return result


def texture_config(**overrides: object) -> GatysConfig:
    """The defaults of :func:`synthesize_texture`: Gatys et al. (2015) match the style's Grams
    only (no TV term), from noise; size 256 (the longest side, with the first style's aspect)
    and 500 iterations (textures converge sooner than transfer), otherwise
    :class:`GatysConfig`'s. ``overrides`` replace any field."""
    base = dict(tv_weight=0.0, content_weight=0.0, size=256, iterations=500)
    base.update(overrides)
    return GatysConfig(**base)  # type: ignore[arg-type]


def _noise_start(mean_of: Tensor, size: tuple[int, int], cfg: GatysConfig) -> Tensor:
    w, h = size
    gen = torch.Generator().manual_seed(int(cfg.seed))
    mean = mean_of.mean(dim=(2, 3), keepdim=True)  # (1, 3, 1, 1)
    return mean + cfg.noise_std * torch.randn(1, 3, h, w, generator=gen)


def _start_image(cfg: GatysConfig, size: tuple[int, int], noise_around: Tensor,
                 content: Tensor | None = None) -> Tensor:
    """The starting image ``(1, 3, H, W)`` at ``size = (W, H)``: ``cfg.init`` if it is an image
    (in luminance when only the luminance is optimised), the content for ``"content"``, else
    noise around ``noise_around``'s mean colour."""
    if isinstance(cfg.init, Tensor):
        _check_images([cfg.init], "init")
        image = cfg.init
        if cfg.preserve_color == "luminance":
            image = gray_to_rgb(luminance(image).clamp(0, 1))
        return resize(image, size)
    if cfg.init == "content" and content is not None:
        return resize(content, size)
    return _noise_start(noise_around, size, cfg)


def _colour_restorer(cfg: GatysConfig, reference: Tensor | None) -> Callable[[Tensor], Tensor]:
    """What turns an optimised image into the result: with luminance-only transfer, the
    optimised luminance takes ``reference``'s chrominance (resized to it); else nothing."""
    def finish(image: Tensor) -> Tensor:
        if cfg.preserve_color == "luminance" and reference is not None:
            return restore_chrominance(image, resize(reference, image_size(image)))
        return image

    return finish


def stylize(
    content: Tensor,
    styles: Sequence[Tensor],
    config: GatysConfig | None = None,
    *,
    snapshot: Snapshot | None = None,
    snapshot_every: int = 0,
) -> GatysResult:
    """Gatys et al. (2016) style transfer.

    Args:
        content: RGB ``(1, 3, H, W)`` in [0, 1] at any size. The output's size is
            ``config.size``: ``N`` is the longest side N with the content's aspect, ``(W, H)``
            exactly W x H (:func:`~imagestyle.imageio.target_size`).
        styles: One or more RGB ``(1, 3, H_i, W_i)`` images; each is resized so its longest
            side is ``style_scale`` x the output's.
        config: :class:`GatysConfig` (default: jcjohnson/neural-style's settings).
        snapshot: Called as ``snapshot(level, iteration, image)`` every ``snapshot_every``
            iterations with the current RGB image (colours restored), e.g. to save it.
        snapshot_every: Period of ``snapshot`` (0 = never).

    Returns:
        :class:`GatysResult`.

    Raises:
        ValueError: bad settings, unknown layers, mismatched weights or blend weights, not
            enough memory.
    """
    cfg = config or GatysConfig()
    _check_images([content], "content")
    _check_images(styles, "styles")
    if len(styles) == 0:
        raise ValueError("at least one style image is needed")
    out_size = target_size(image_size(content), cfg.size)
    _check_fits(cfg, False, styles, out_size)
    content_full = content
    styles = _prepare_styles(styles, cfg, content_full)
    if cfg.preserve_color == "luminance":
        content = gray_to_rgb(luminance(content).clamp(0, 1))
    start = _start_image(cfg, level_sizes(out_size, cfg.scales)[0], content, content)
    return _optimise_levels(cfg, content, styles, out_size, start, snapshot,
                            snapshot_every, _colour_restorer(cfg, content_full))


def synthesize_texture(
    styles: Sequence[Tensor],
    config: GatysConfig | None = None,
    *,
    color_reference: Tensor | None = None,
    snapshot: Snapshot | None = None,
    snapshot_every: int = 0,
) -> GatysResult:
    """Gatys et al. (2015) texture synthesis: match the styles' Grams from noise.

    Args:
        styles: One or more RGB ``(1, 3, H_i, W_i)`` source textures; each is resized so its
            longest side is ``style_scale`` x the output's longest side.
        config: :class:`GatysConfig` (default :func:`texture_config`: no TV term, size 256,
            500 iterations). The output's size is ``config.size``: ``N`` is the longest side N
            with the first style's aspect, ``(W, H)`` exactly W x H
            (:func:`~imagestyle.imageio.target_size`); content settings are ignored. ``init``
            may be ``"noise"`` or an image (``"content"`` has no meaning).
        color_reference: Colour preservation for textures: with ``preserve_color="histogram"``
            the styles take this image's colour mean and covariance (default: the first
            style's, which unifies the palettes of blended styles); with ``"luminance"`` the
            texture is synthesised in luminance and takes this image's chrominance (resized to
            the output; default: the ``init`` image, which must then be given).
        snapshot, snapshot_every: As for :func:`stylize`.

    Returns:
        :class:`GatysResult`.
    """
    cfg = config or texture_config()
    _check_images(styles, "styles")
    if len(styles) == 0:
        raise ValueError("at least one style image is needed")
    if isinstance(cfg.init, str) and cfg.init == "content":
        raise ValueError("texture synthesis has no content image: init must be 'noise' or an "
                         "image")
    out_size = target_size(image_size(styles[0]), cfg.size)
    _check_fits(cfg, True, styles, out_size)
    init_image = cfg.init if isinstance(cfg.init, Tensor) else None
    if init_image is not None:
        _check_images([init_image], "init")
    if color_reference is None:
        color_reference = init_image if cfg.preserve_color == "luminance" else styles[0]
    if cfg.preserve_color == "luminance" and color_reference is None:
        raise ValueError("luminance-only texture synthesis keeps the colours of an image: give "
                         "init PATH (or a color_reference) whose chrominance to keep")
    styles = _prepare_styles(styles, cfg, color_reference)
    start = _start_image(cfg, level_sizes(out_size, cfg.scales)[0], styles[0])
    return _optimise_levels(replace(cfg, content_weight=0.0), None, styles, out_size, start,
                            snapshot, snapshot_every, _colour_restorer(cfg, color_reference))
