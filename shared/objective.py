"""One objective for every optimisation-based method: weighted content, style and TV terms.

The objective holds only targets (as buffers) and weights; the maths lives in the pure
functions of :mod:`shared.losses` and :mod:`shared.gram`. Calling it on a dict of named
feature layers returns a :class:`LossTerms` with the total and each term reported apart, for
progress bars, loss histories and metrics files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence

import torch
from torch import Tensor, nn

from .gram import GramNormalize, blend_grams, gram_matrix
from .losses import Reduction, content_loss, gram_style_loss, tv_loss


@dataclass
class LossTerms:
    """The value of an objective at one point.

    Attributes:
        total: Scalar tensor, the weighted sum that is minimised (carries the graph).
        terms: Weighted term totals by name: ``"content"``, ``"style"``, ``"tv"`` (only those
            with a non-zero weight), each a scalar tensor.
        layers: Weighted per-layer terms, named ``"content/<layer>"`` and ``"style/<layer>"``.
    """

    total: Tensor
    terms: dict[str, Tensor] = field(default_factory=dict)
    layers: dict[str, Tensor] = field(default_factory=dict)

    def floats(self, per_layer: bool = False) -> dict[str, float]:
        """Plain floats ``{"total": .., "content": .., ...}`` (detached), for logs."""
        out = {"total": float(self.total.detach())}
        out.update({k: float(v.detach()) for k, v in self.terms.items()})
        if per_layer:
            out.update({k: float(v.detach()) for k, v in self.layers.items()})
        return out


def _layer_weights(
    layers: Sequence[str], weights: Mapping[str, float] | None, what: str
) -> dict[str, float]:
    if weights is None:
        return {name: 1.0 for name in layers}
    unknown = set(weights) - set(layers)
    if unknown:
        raise ValueError(f"{what} layer weights name layers without targets: {sorted(unknown)}")
    return {name: float(weights.get(name, 1.0)) for name in layers}


class StyleContentObjective(nn.Module):
    """``content_weight * sum_l w_l Lc_l + style_weight * sum_l w_l Ls_l + tv_weight * TV``.

    This is the objective of Gatys et al. (2015 textures with content weight 0; 2016 style
    transfer) and, with one layer, of Ulyanov & Lebedev (2016) for audio. Set the reduction and
    Gram normalisation to match the reference being followed:

    * Ulyanov & Lebedev (audio): ``reduction="sum"``, ``gram_normalize="positions"``,
      ``style_weight=1``, ``content_weight=1e-2``.
    * jcjohnson/neural-style (images): ``reduction="mean"``,
      ``gram_normalize="channels_positions"``, ``content_weight=5``, ``style_weight=100``,
      ``tv_weight=1e-3``.

    Args:
        content_targets: Target feature maps by layer name, each ``(1, C, *spatial)`` (or
            ``(B, C, *spatial)`` for a batch of variables with one target each).
        style_targets: Target Gram matrices by layer name, each ``(1, C, C)`` (already blended
            if there are several styles; see :meth:`from_features`).
        content_weight, style_weight, tv_weight: Weights of the three terms.
        content_layer_weights, style_layer_weights: Per-layer weights (default 1 each).
        reduction: Reduction of the squared differences, ``"sum"`` or ``"mean"``.
        gram_normalize: Normalisation of the Gram matrices (must match the targets').
        tv_reduction: Reduction of the TV term when it differs from ``reduction``
            (jcjohnson/neural-style: mean squared error for content and style, but a plain
            sum for TV); ``None`` means ``reduction``.
        content_layers: The layers of the content term, when their targets come with each call
            (``forward(features, content_targets=...)``: feed-forward training, where every
            batch is its own content); default: the layers of ``content_targets``.
    """

    def __init__(
        self,
        content_targets: Mapping[str, Tensor] | None = None,
        style_targets: Mapping[str, Tensor] | None = None,
        *,
        content_weight: float = 1.0,
        style_weight: float = 1.0,
        tv_weight: float = 0.0,
        content_layer_weights: Mapping[str, float] | None = None,
        style_layer_weights: Mapping[str, float] | None = None,
        reduction: Reduction = "sum",
        gram_normalize: GramNormalize = "positions",
        tv_reduction: Reduction | None = None,
        content_layers: Sequence[str] | None = None,
    ) -> None:
        super().__init__()
        content_targets = dict(content_targets or {})
        style_targets = dict(style_targets or {})
        if content_layers is not None:
            unknown = sorted(set(content_targets) - set(content_layers))
            if unknown:
                raise ValueError(f"content_targets name layers that are not content_layers: "
                                 f"{unknown}")
        if not content_layers and not content_targets and not style_targets and tv_weight == 0:
            raise ValueError("the objective needs at least one content or style target")
        for name, w in (("content", content_weight), ("style", style_weight), ("tv", tv_weight)):
            if not (w >= 0.0) or w == float("inf"):
                raise ValueError(f"{name} weight must be finite and non-negative, got {w}")
        self.content_layers = list(content_layers if content_layers is not None
                                   else content_targets)
        self._stored_content = list(content_targets)  # layers with a stored target
        self.style_layers = list(style_targets)
        self.content_weight = float(content_weight)
        self.style_weight = float(style_weight)
        self.tv_weight = float(tv_weight)
        self.content_layer_weights = _layer_weights(
            self.content_layers, content_layer_weights, "content"
        )
        self.style_layer_weights = _layer_weights(self.style_layers, style_layer_weights, "style")
        self.reduction: Reduction = reduction
        self.tv_reduction: Reduction = tv_reduction or reduction
        self.gram_normalize: GramNormalize = gram_normalize
        for i, name in enumerate(self._stored_content):
            self.register_buffer(f"content_target_{i}", content_targets[name].detach())
        for i, name in enumerate(self.style_layers):
            target = style_targets[name].detach()
            if target.dim() < 2 or not torch.allclose(target, target.transpose(-1, -2),
                                                      rtol=1e-4, atol=1e-6 * float(target.abs().max())):
                raise ValueError(f"style target {name!r} must be a symmetric Gram matrix (C, C)")
            self.register_buffer(f"style_target_{i}", target)

    @classmethod
    def from_features(
        cls,
        content_features: Mapping[str, Tensor] | None,
        style_features: Sequence[Mapping[str, Tensor]],
        *,
        content_layers: Sequence[str] = (),
        style_layers: Sequence[str] = (),
        style_blend_weights: Sequence[float] | None = None,
        gram_normalize: GramNormalize = "positions",
        **kwargs: object,
    ) -> "StyleContentObjective":
        """Build the objective from feature dicts, computing each style's Grams once.

        Args:
            content_features: Named features of the content, each ``(1, C, *spatial)``; ``None``
                with ``content_layers`` leaves the content targets to each call
                (``forward(features, content_targets=...)``).
            style_features: One dict of named features per style source, each
                ``(1, C, *spatial)``; spatial sizes may differ from the content's.
            content_layers, style_layers: Which layers to use for each term.
            style_blend_weights: One weight per style source (normalised to sum to 1).
            gram_normalize: Gram normalisation, passed on to the objective.
            **kwargs: The remaining keyword arguments of the constructor.
        """
        content_targets = {}
        if content_layers and content_features is not None:
            content_targets = {name: content_features[name].detach() for name in content_layers}
        style_targets = {}
        if style_layers:
            if len(style_features) == 0:
                raise ValueError("style layers were given but no style features")
            with torch.no_grad():
                for name in style_layers:
                    grams = [gram_matrix(f[name], gram_normalize) for f in style_features]
                    style_targets[name] = blend_grams(grams, style_blend_weights)
        return cls(
            content_targets, style_targets, gram_normalize=gram_normalize,  # type: ignore[arg-type]
            content_layers=list(content_layers), **kwargs,  # type: ignore[arg-type]
        )

    @property
    def layers(self) -> list[str]:
        """Every feature layer the objective reads, in first-use order."""
        return list(dict.fromkeys(self.content_layers + self.style_layers))

    def content_target(self, name: str) -> Tensor:
        """The stored content target of layer ``name``, ``(1, C, *spatial)``."""
        if name not in self._stored_content:
            raise ValueError(f"content layer {name!r} has no stored target; pass content_targets "
                             "to the call")
        return getattr(self, f"content_target_{self._stored_content.index(name)}")

    def style_target(self, name: str) -> Tensor:
        """The style target (Gram matrix) of layer ``name``, ``(1, C, C)``."""
        return getattr(self, f"style_target_{self.style_layers.index(name)}")

    def forward(
        self,
        features: Mapping[str, Tensor],
        image: Tensor | None = None,
        content_targets: Mapping[str, Tensor] | None = None,
    ) -> LossTerms:
        """Evaluate the objective.

        Args:
            features: Named feature maps of the current variable, each ``(B, C, *spatial)``.
            image: The variable itself, ``(B, C, *spatial)``, needed when ``tv_weight > 0``.
            content_targets: Content targets of this call by layer name, each
                ``(B, C, *spatial)`` (one per item of the batch) or ``(1, C, *spatial)``;
                they replace the stored ones (detached: no gradient flows into a target).
                Needed for content layers without a stored target.

        Returns:
            :class:`LossTerms` with the total and the weighted terms.
        """
        missing = [n for n in self.layers if n not in features]
        if missing:
            raise ValueError(f"features lack the layers {missing}; got {sorted(features)}")
        layers: dict[str, Tensor] = {}
        terms: dict[str, Tensor] = {}
        if self.content_layers and self.content_weight > 0:
            terms["content"] = self._content_term(features, content_targets, layers)
        if self.style_layers and self.style_weight > 0:
            terms["style"] = self._style_term(features, layers)
        if self.tv_weight > 0:
            if image is None:
                raise ValueError("tv_weight > 0 needs the image passed to the objective")
            terms["tv"] = self.tv_weight * tv_loss(image, self.tv_reduction)
        if not terms:
            raise ValueError("every term of the objective has zero weight")
        return LossTerms(total=_sum(terms.values()), terms=terms, layers=layers)

    def _content_term(self, features: Mapping[str, Tensor],
                      targets: Mapping[str, Tensor] | None, layers: dict[str, Tensor]) -> Tensor:
        """The weighted content term; each layer's term is also put in ``layers``."""
        if targets is not None:
            missing = [n for n in self.content_layers if n not in targets]
            if missing:
                raise ValueError(f"content_targets lack the content layers {missing}")
        for name in self.content_layers:
            target = (targets[name].detach() if targets is not None
                      else self.content_target(name))
            layers[f"content/{name}"] = (
                self.content_weight * self.content_layer_weights[name]
                * content_loss(features[name], target, self.reduction))
        return _sum(layers[f"content/{n}"] for n in self.content_layers)

    def _style_term(self, features: Mapping[str, Tensor], layers: dict[str, Tensor]) -> Tensor:
        """The weighted style term; each layer's term is also put in ``layers``."""
        for name in self.style_layers:
            layers[f"style/{name}"] = (
                self.style_weight * self.style_layer_weights[name]
                * gram_style_loss(features[name], self.style_target(name), self.gram_normalize,
                                  self.reduction))
        return _sum(layers[f"style/{n}"] for n in self.style_layers)


def _sum(values: Iterable[Tensor]) -> Tensor:
    """``values[0] + values[1] + ...`` (in order, keeping the graph)."""
    total: Tensor | None = None
    for v in values:
        total = v if total is None else total + v
    assert total is not None
    return total
