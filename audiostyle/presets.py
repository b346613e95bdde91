"""Named presets: settings by name, per command (data; how they were chosen: ``docs/presets.md``).

* ``default``: the reference's settings in both modes (optimise the spectrogram, Griffin-Lim).
* ``fast``: 2048 filters, and the samples optimised last.

  A transfer: 200 iterations of the spectrogram stage, from the content's spectrogram when
  the content and the style hold their energy in the same bands, else from the reference's
  noise (``init="auto"``, :func:`audiostyle.api.settle_starts`; the reference always starts
  from noise), then 100 of Griffin-Lim from PGHI's phase and 40 on the samples. Until
  2026-12-07 it took 80 iterations on the samples, from the content's samples or after 80 of
  the spectrogram stage, and missed the notebook on six sustained broadband styles (piano →
  strings: 0.413 of the held-out gap against the notebook's 0.696; the new route 0.786). A
  transfer to a narrow-band tonal style (:data:`audiostyle.api.TONAL_SHARE`) keeps that older
  route's second branch (:data:`TONAL_ROUTES`: 80 iterations of the spectrogram stage from
  noise, then 80 on the samples), which closed 0.889 of the gap on two sines where the main
  route closed 0.845 (the notebook 0.864).

  A texture: the rhythm term, 40 iterations on the samples from noise shaped like the style's
  long-term spectrum (:func:`audiostyle.stages.start_samples`) when the style is noise-like
  and its level steady (a deep tremolo is not: :data:`audiostyle.api.LEVEL_MODULATION_MAX`),
  else after 200 iterations of a spectrogram stage that starts from that noise's log
  spectrogram (``init="shaped"``, not the reference's ``randn * 1e-3``) and 100 of
  Griffin-Lim from PGHI's phase (``waveform_init="auto"``: on tones, harmonic music, speech
  and drums the shaped samples ended further from the style, on noise closer;
  :data:`audiostyle.api.NOISE_FLATNESS`). The spectrogram stage's shaped start and its 200
  iterations took the strings, speech, the mix and the pluck past the notebook, which 80
  from ``randn * 1e-3`` had not reached (``docs/presets.md``, "The texture presets' start").
* ``best``: the reference's spectrogram stage and Griffin-Lim, then 150 iterations on the
  samples, which recover what Griffin-Lim lost; a transfer's waveform stage on a network of
  8192 filters at content weight 0.045, a texture's with the rhythm term. (``init="shaped"``
  helped ``best`` textures at a reduced budget, not clearly at the full one:
  ``docs/presets.md``, "The texture presets' start".) A transfer to a narrow-band tonal
  style (:data:`audiostyle.api.TONAL_SHARE`) takes ``fast``'s tonal route with 300 iterations
  on the samples instead (:data:`TONAL_ROUTES`): from the reference's converged spectrogram no
  waveform stage tried moved toward such a style, and ``best``'s own route ended further from
  a phone ring than the reference (0.813 of the held-out gap against 0.886;
  ``docs/presets.md``, "A route for tonal styles"). A texture of such a style whose level is
  steady (:data:`audiostyle.api.LEVEL_MODULATION_MAX`) drops the rhythm term
  (:data:`TONAL_ROUTES`): with it the stage on the samples moved a whistled tune away from
  the style (0.626 held-out against the reference's own 0.098; without it 0.102).
"""

from __future__ import annotations

from typing import Any

from .config import AudioStyleConfig, ModeName

PRESET_NAMES: tuple[str, ...] = ("fast", "default", "best")
PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "transfer": {
        "fast": dict(filters=2048, iterations=200, waveform_iterations=40, domain="waveform",
                     init="auto", waveform_init="griffin-lim", griffin_lim_iters=100,
                     phase_init="pghi"),
        "default": dict(),
        "best": dict(domain="waveform", waveform_init="griffin-lim", waveform_iterations=150,
                     waveform_filters=8192, content_weight=0.045),
    },
    "texture": {
        "fast": dict(filters=2048, iterations=200, waveform_iterations=40, domain="waveform",
                     waveform_init="auto", init="shaped", griffin_lim_iters=100,
                     phase_init="pghi", autocorr_weight=30.0),
        "default": dict(),
        "best": dict(domain="waveform", waveform_init="griffin-lim", waveform_iterations=150,
                     autocorr_weight=30.0),
    },
}
# The route a preset takes instead when the styles are narrow-band tonal (settled from the
# inputs by audiostyle.api.settle_route): fast's and best's transfers, best's textures.
TONAL_ROUTES: dict[str, dict[str, dict[str, Any]]] = {
    "transfer": {
        "fast": dict(filters=2048, iterations=80, domain="waveform", waveform_init="griffin-lim",
                     griffin_lim_iters=100, phase_init="pghi"),
        "best": dict(filters=2048, iterations=80, domain="waveform",
                     waveform_init="griffin-lim", waveform_iterations=300,
                     griffin_lim_iters=100, phase_init="pghi"),
    },
    "texture": {
        "best": dict(domain="waveform", waveform_init="griffin-lim", waveform_iterations=150),
    },
}
_WAVEFORM_ONLY = ("waveform_init", "waveform_iterations", "waveform_filters")


def preset_config(name: str = "default", mode: ModeName = "transfer",
                  **overrides: Any) -> AudioStyleConfig:
    """The config of a named preset for a ``mode`` (``"transfer"`` or ``"texture"``), with
    ``overrides`` (settings by name; ``None`` values ignored) applied.

    An override of ``domain`` to ``"spectrogram"`` drops the preset's waveform-stage settings
    rather than failing on them, and its tonal route (:data:`TONAL_ROUTES`, a waveform route);
    other overrides apply to both routes. A preset's ``waveform_filters`` is a multiple of its
    ``filters``, and an override of ``filters`` alone keeps that multiple (``best`` with
    ``filters=1024``: a waveform stage of 2048).
    """
    if name not in PRESET_NAMES:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESET_NAMES)}")
    if mode not in PRESETS:
        raise ValueError(f"mode must be 'transfer' or 'texture', got {mode!r}")
    overrides = {k: v for k, v in overrides.items() if v is not None}
    config = _build(PRESETS[mode][name], overrides)
    route = TONAL_ROUTES[mode].get(name)
    if route is None or overrides.get("domain") == "spectrogram":
        return config
    return config.replace(tonal=_build(route, overrides))


def _build(preset: dict[str, Any], overrides: dict[str, Any]) -> AudioStyleConfig:
    """One route's config: its settings with ``overrides`` (see :func:`preset_config`)."""
    fields = dict(preset)
    if overrides.get("domain") == "spectrogram":
        fields = {k: v for k, v in fields.items() if k not in _WAVEFORM_ONLY}
    own, filters = fields.get("waveform_filters"), overrides.get("filters")
    if own is not None and filters is not None and "waveform_filters" not in overrides:
        base = int(fields.get("filters", AudioStyleConfig().features.filters))
        fields["waveform_filters"] = max(1, int(own) * int(filters) // base)
    return AudioStyleConfig.build(**{**fields, **overrides})


__all__ = ["PRESETS", "PRESET_NAMES", "TONAL_ROUTES", "preset_config"]
