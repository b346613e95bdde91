"""Rhythm for textures: the autocorrelation term of Antognini, Hoffman & Weiss (2019).

A Gram matrix averages over time, so it keeps which filters fire together but not *when*: a
texture matched on Grams alone smears the style's beat. Antognini, Hoffman & Weiss ("Synthesizing
diverse, high-quality audio textures", 2019) add, per filter ``k`` of a feature map ``F``
``(C, T)``, its autocorrelation over time lags,

    A_k(tau) = 1 / (T - tau) * sum_t G_k(t) G_k(t + tau),    tau = 1 .. L,
    G_k(t) = F_k(t) - mean_t F_k(t),

and the loss ``sum_k sum_tau (A_k(tau) - A^style_k(tau))^2`` per layer, blended over styles
like the Grams. It is computed with an FFT (a zero-padded circular correlation has no wrap-around
for lags up to ``L`` when the transform is at least ``T + L`` long), so its cost is
``O(C T log T)``, small beside the convolution.

.. note:: Departures from the paper: each feature map is centred (its mean over time taken
   out: an autocovariance), because a ReLU feature's mean is large and its square, the same at
   every lag, would repeat the Gram's diagonal ``L`` times over and drown the rhythm (on a
   6 s drum texture, held-out style distance 0.584 centred against 0.674 uncentred). The sum
   over positions is divided by the overlap ``T - tau`` (the paper divides by nothing), so a
   lag's value is a mean like the Gram's entries and a style of any length serves a texture
   of any length. Lag 0 is left out (the variance, close to what the Gram holds). The
   style's targets are accumulated in chunks of output positions
   (:func:`chunked_autocorrelation`), so a long style costs one chunk's feature memory.
   Weight 30 and lags to 2 s keep a drum loop's period; more weight trades the Gram match for
   the rhythm, and in a style transfer, where the content sets the rhythm, the term only costs
   texture (``docs/audio.md``, "Rhythm").

The functions here are pure; :class:`AutocorrObjective` only holds targets and a weight.
"""

from __future__ import annotations

from typing import Callable, Mapping, Optional, Sequence

import torch
from torch import Tensor

from shared import LossTerms, StyleContentObjective, blend_grams

AUTOCORR_PREFIX = "autocorr/"  # style-target keys "autocorr/conv<K>" next to the Grams "conv<K>"


def _fft_size(n: int) -> int:
    """The smallest power of two of at least ``n`` (fast for every backend)."""
    return 1 << max(0, (n - 1).bit_length())


def lag_sums(head: Tensor, span: Tensor, max_lag: int) -> Tensor:
    """Raw lagged products ``sum_{t < n} head(t) span(t + tau)`` for ``tau = 1 .. max_lag``,
    terms with ``t + tau >= m`` left out.

    Args:
        head: ``(B, C, n)``, the positions whose products are summed.
        span: ``(B, C, m)`` with ``m >= n``, the same positions followed by the ones after
            (``span[..., :n]`` is ``head``).
        max_lag: ``L >= 1``.

    Returns:
        ``(B, C, L)``.
    """
    n, m = head.shape[-1], span.shape[-1]
    if m < n:
        raise ValueError(f"span must be at least as long as head, got {m} < {n}")
    size = _fft_size(max(m, n + max_lag))
    a = torch.fft.rfft(head, size)  # (B, C, size // 2 + 1)
    b = torch.fft.rfft(span, size)  # (B, C, size // 2 + 1)
    corr = torch.fft.irfft(a.conj() * b, size)  # (B, C, size): corr[tau] = sum_t a(t) b(t+tau)
    return corr[..., 1:max_lag + 1]  # (B, C, L)


def autocorrelation(features: Tensor, max_lag: int) -> Tensor:
    """Overlap-normalised autocorrelation of each centred feature map over lags
    ``1 .. max_lag``.

    Args:
        features: ``(B, C, T)`` with ``T > max_lag``.
        max_lag: ``L >= 1``.

    Returns:
        ``(B, C, L)``: ``A[b, k, tau - 1] = sum_t G[b, k, t] G[b, k, t + tau] / (T - tau)``
        with ``G = F - mean_t F``.
    """
    if features.dim() != 3:
        raise ValueError(f"features must be (B, C, T), got {features.dim()} dimensions")
    t = features.shape[-1]
    if not 1 <= max_lag < t:
        raise ValueError(f"max_lag must be between 1 and the frames less one ({t - 1}), "
                         f"got {max_lag}")
    overlap = torch.arange(t - 1, t - max_lag - 1, -1, device=features.device,
                           dtype=features.dtype)  # (L,): T - tau
    centred = features - features.mean(-1, keepdim=True)  # (B, C, T)
    return lag_sums(centred, centred, max_lag) / overlap  # (B, C, L)


def autocorrelation_loss(features: Tensor, target: Tensor) -> Tensor:
    """``sum((autocorrelation(features, L) - target[..., :L])^2)`` with ``L`` the target's lags,
    cut to the features' frames less one when they are shorter.

    Args:
        features: ``(B, C, T)``, ``T >= 2``.
        target: ``(1, C, L)`` or ``(B, C, L)`` (:func:`chunked_autocorrelation`).

    Returns:
        Scalar tensor.
    """
    if target.shape[-2] != features.shape[1]:
        raise ValueError(f"target has {target.shape[-2]} channels, features {features.shape[1]}")
    lags = min(target.shape[-1], features.shape[-1] - 1)
    diff = autocorrelation(features, lags) - target[..., :lags]  # (B, C, L)
    return diff.square().sum()


def chunked_autocorrelation(net: Callable[[Tensor], Mapping[str, Tensor]], widths: Sequence[int],
                            spec: Tensor, max_lag: int,
                            chunk_frames: int = 4096) -> dict[str, Tensor]:
    """:func:`autocorrelation` of every layer of ``net`` on a spectrogram of any length.

    The means and the lagged products are sums over positions, so they are accumulated over
    chunks of ``chunk_frames`` output positions, each run through ``net`` with the ``max_lag``
    positions after it (and the widest kernel less one), in two passes (the means, then the
    products of the centred features): memory is one chunk's features. Equals
    :func:`autocorrelation` of the whole features up to summation order.

    Args:
        net: Spectrogram ``(1, F, T)`` -> ``{"conv<K>": (1, C, T - K + 1)}``
            (:class:`audiostyle.network.RandomConvBank`).
        widths: The kernel width of each layer, in ``net``'s order.
        spec: ``(1, F, T)`` with ``T - max(widths) + 1 > max_lag``.

    Returns:
        ``{"conv<K>": (1, C, max_lag)}``.
    """
    if chunk_frames < 1:
        raise ValueError(f"chunk_frames must be positive, got {chunk_frames}")
    frames, widest = spec.shape[-1], max(widths)
    if frames - widest + 1 <= max_lag:
        raise ValueError(f"max_lag must be less than the style's {frames - widest + 1} feature "
                         f"frames, got {max_lag}")
    means: dict[str, Tensor] = {}
    sums: dict[str, Tensor] = {}
    with torch.no_grad():
        for centring in (True, False):
            for start in range(0, frames - widest + 1, chunk_frames):
                last = start + chunk_frames > frames - widest
                stop = frames if last else min(frames,
                                               start + chunk_frames + max_lag + widest - 1)
                feats = net(spec[..., start:stop])
                for name, f in feats.items():
                    head = f if last else f[..., :chunk_frames]  # (1, C, n)
                    if centring:
                        part = head.sum(-1, keepdim=True)  # (1, C, 1)
                        means[name] = part if name not in means else means[name].add_(part)
                        continue
                    f = f - means[name]  # (1, C, m)
                    part = lag_sums(f[..., :head.shape[-1]], f, max_lag)  # (1, C, L)
                    sums[name] = part if name not in sums else sums[name].add_(part)
                del feats
            if centring:  # layer K has frames - K + 1 positions
                means = {name: m / (frames - k + 1) for k, (name, m) in zip(widths, means.items())}
    out = {}
    for k, name in zip(widths, sums):
        positions = frames - k + 1
        overlap = torch.arange(positions - 1, positions - max_lag - 1, -1,
                               device=spec.device, dtype=sums[name].dtype)  # (L,)
        out[name] = sums[name] / overlap  # (1, C, L)
    return out


def style_autocorrelations(net: Callable[[Tensor], Mapping[str, Tensor]],
                           widths: Sequence[int], specs: Sequence[Tensor], max_lag: int,
                           weights: Optional[Sequence[float]] = None) -> dict[str, Tensor]:
    """Blended autocorrelation targets of style spectrograms (each ``(1, F, T_i)``): the
    weighted mean (weights normalised to sum 1, as :func:`shared.blend_grams`) of each style's
    :func:`chunked_autocorrelation`. ``max_lag`` is cut to the shortest style's feature frames
    less one. Returns ``{"conv<K>": (1, C, L)}``."""
    widest = max(widths)
    max_lag = min([max_lag] + [s.shape[-1] - widest for s in specs])
    if max_lag < 1:
        raise ValueError(f"every style needs more than {widest} frames for an autocorrelation, "
                         f"got {[s.shape[-1] for s in specs]}")
    per_style = [chunked_autocorrelation(net, widths, s, max_lag) for s in specs]
    return {name: blend_grams([a[name] for a in per_style], weights) for name in per_style[0]}


class AutocorrObjective(StyleContentObjective):
    """:class:`shared.StyleContentObjective` plus ``autocorr_weight * sum_l`` of
    :func:`autocorrelation_loss` per layer (Antognini et al. 2019).

    Args:
        autocorr_targets: ``{"conv<K>": (1, C, L)}`` (:func:`style_autocorrelations`).
        autocorr_weight: Weight of the term (> 0).
        *args, **kwargs: Those of :class:`shared.StyleContentObjective`.

    Its :class:`shared.LossTerms` carry the extra term ``"autocorr"`` (and ``"autocorr/<layer>"``
    per layer), included in ``total``.
    """

    def __init__(self, *args: object, autocorr_targets: Mapping[str, Tensor],
                 autocorr_weight: float, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        if not autocorr_targets:
            raise ValueError("autocorr_targets must name at least one layer")
        if not (autocorr_weight > 0) or autocorr_weight == float("inf"):
            raise ValueError(f"autocorr_weight must be positive and finite, got {autocorr_weight}")
        self.autocorr_layers = list(autocorr_targets)
        self.autocorr_weight = float(autocorr_weight)
        for i, name in enumerate(self.autocorr_layers):
            self.register_buffer(f"autocorr_target_{i}", autocorr_targets[name].detach())

    @property
    def layers(self) -> list[str]:
        return list(dict.fromkeys(super().layers + self.autocorr_layers))

    def autocorr_target(self, name: str) -> Tensor:
        return getattr(self, f"autocorr_target_{self.autocorr_layers.index(name)}")

    def forward(self, features: Mapping[str, Tensor], *args: object,
                **kwargs: object) -> LossTerms:
        """:meth:`shared.StyleContentObjective.forward` (same arguments) plus the term."""
        base = super().forward(features, *args, **kwargs)  # type: ignore[arg-type]
        total = None
        layers = dict(base.layers)
        for name in self.autocorr_layers:
            term = self.autocorr_weight * autocorrelation_loss(features[name],
                                                               self.autocorr_target(name))
            layers[f"autocorr/{name}"] = term
            total = term if total is None else total + term
        assert total is not None
        return LossTerms(total=base.total + total, terms={**base.terms, "autocorr": total},
                         layers=layers)


__all__ = ["AUTOCORR_PREFIX", "AutocorrObjective", "autocorrelation", "autocorrelation_loss",
           "chunked_autocorrelation", "lag_sums", "style_autocorrelations"]
