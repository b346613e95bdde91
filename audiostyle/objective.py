"""The loss of one channel or window, and the optimiser's settings for each stage.

Ulyanov & Lebedev's objective ``sum((G - G_style)^2) + alpha * sum((F - F_content)^2)``
(:class:`shared.StyleContentObjective` with ``reduction="sum"`` and Grams normalised by
positions), plus, with ``autocorr_weight > 0``, the rhythm term of Antognini et al. 2019
(:class:`audiostyle.rhythm.AutocorrObjective`). The spectrogram stage evaluates it on the
features of the optimised log spectrogram; the waveform stage on those of the log spectrogram
of the optimised samples (:func:`waveform_loss`).
"""

from __future__ import annotations

from typing import Callable, Optional

import torch
from torch import Tensor

from shared import LossTerms, OptimConfig, StyleContentObjective

from .config import AudioStyleConfig
from .dsp import soft_limit
from .network import RandomConvBank
from .rhythm import AUTOCORR_PREFIX, AutocorrObjective
from .spectral import Spectral

WAVEFORM_EPS = 1e-12  # inside the waveform stage's magnitude: a finite gradient at silence


def build_objective(net: RandomConvBank, style_targets: dict[str, Tensor],
                    content_spec: Optional[Tensor],
                    config: AudioStyleConfig) -> StyleContentObjective:
    """The objective of one channel (or window): the style Grams ``{"conv<K>": (1, C, C)}``
    and, for a transfer with ``content_weight > 0``, the features of ``content_spec``
    ``(1, F, T)``. The targets' ``"autocorr/conv<K>"`` entries ``(1, C, L)``
    (:class:`audiostyle.targets.StyleTargets`) make it an
    :class:`~audiostyle.rhythm.AutocorrObjective` when ``autocorr_weight > 0``."""
    weights = config.objective
    content_targets: dict[str, Tensor] = {}
    if content_spec is not None and weights.content_weight > 0:
        with torch.no_grad():
            content_targets = net(content_spec)
    grams = {k: v for k, v in style_targets.items() if not k.startswith(AUTOCORR_PREFIX)}
    lagged = {k[len(AUTOCORR_PREFIX):]: v for k, v in style_targets.items()
              if k.startswith(AUTOCORR_PREFIX)}
    device = next(iter(grams.values())).device
    kwargs = dict(content_weight=weights.content_weight, style_weight=weights.style_weight,
                  reduction="sum", gram_normalize="positions")
    if weights.autocorr_weight > 0 and lagged:
        return AutocorrObjective(content_targets, grams, autocorr_targets=lagged,
                                 autocorr_weight=weights.autocorr_weight, **kwargs).to(device)
    objective = StyleContentObjective(content_targets, grams, **kwargs)  # type: ignore[arg-type]
    return objective.to(device)


def spectrogram_loss(net: RandomConvBank, objective: StyleContentObjective,
                     prefix: Optional[Tensor] = None) -> Callable[[Tensor], LossTerms]:
    """The spectrogram stage's loss: log spectrogram ``(1, F, T)`` -> ``objective(net(S))``;
    with ``prefix`` ``(1, F, P)``, fixed frames the variable continues (a texture window's
    context), taken on ``cat(prefix, S)``."""
    if prefix is None:
        return lambda x: objective(net(x))
    return lambda x: objective(net(torch.cat([prefix, x], dim=-1)))


def waveform_loss(net: RandomConvBank, objective: StyleContentObjective, spectral: Spectral,
                  prefix: Optional[Tensor] = None, gain: float = 1.0
                  ) -> Callable[[Tensor], LossTerms]:
    """The waveform domain's loss: variable ``(1, N)`` -> ``objective(net(S))`` with
    ``S = log1p(sqrt(re^2 + im^2 + eps))`` of the STFT of ``gain`` times its samples
    :func:`audiostyle.dsp.soft_limit` ``(variable)`` (``eps = WAVEFORM_EPS``),
    differentiable in the samples (Mital 2017; Barry & Kim 2017; Caracalla & Roebel 2020).
    With ``prefix`` ``(1, P)``, fixed samples the variable continues (a window's context),
    the STFT is taken of ``gain * cat(prefix, samples)``.

    ``gain`` (:func:`audiostyle.dsp.start_gain` of the start) lets the loss hear samples that
    were scaled under full scale at the level they had: ``log1p`` is not scale-invariant, so
    a Griffin-Lim start 4.4x over full scale, scaled down, began 2.7x further from the style's
    Grams than the start itself and the stage moved away from the style while it made up the
    level (``docs/results/2026-12-03-adhoc-waveform-gain.md``)."""
    if prefix is None:
        return lambda x: objective(net(spectral.log(gain * soft_limit(x), WAVEFORM_EPS)))
    return lambda x: objective(net(spectral.log(gain * torch.cat([prefix, soft_limit(x)], -1),
                                                WAVEFORM_EPS)))


def lbfgs_history(config: AudioStyleConfig, numel: int) -> int:
    """L-BFGS history size, capped so that its (step, gradient) pairs of a variable of
    ``numel`` elements fit ``lbfgs_memory_mb``."""
    pair_bytes = 2 * 4 * numel
    cap = max(3, (config.optim.lbfgs_memory_mb << 20) // max(pair_bytes, 1))
    return int(min(config.optim.history_size, cap))


def optim_config(config: AudioStyleConfig, stage: str, numel: int) -> OptimConfig:
    """:func:`shared.optimize`'s settings for a stage (``"spectrogram"``, ``"waveform"``) on a
    variable of ``numel`` elements."""
    o = config.optim
    return OptimConfig(optimizer=o.optimizer, iterations=config.budget(stage), lr=o.lr,
                       history_size=lbfgs_history(config, numel),
                       line_search=o.line_search if o.optimizer == "lbfgs" else None)


__all__ = ["WAVEFORM_EPS", "build_objective", "lbfgs_history", "optim_config",
           "spectrogram_loss", "waveform_loss"]
