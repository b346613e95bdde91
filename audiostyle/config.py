"""Hyper-parameters of audio style transfer and texture synthesis: one frozen config in parts.

The defaults are the reference's (Ulyanov & Lebedev 2016, "Audio texture synthesis and style
transfer", and their TensorFlow/Torch code): mono at 22050 Hz, STFT 2048/512 (Hann, centred),
S = log1p|STFT|, one random 1-D convolution of 4096 filters of width 11, alpha = 1e-2, L-BFGS for
300 iterations from randn * 1e-3, and 500 iterations of Griffin-Lim.

:class:`AudioStyleConfig` holds one part per stage: :class:`FrontEnd`, :class:`Features`,
:class:`Objective`, :class:`Optimisation`, :class:`Reconstruction`, :class:`WaveformStage` (or
none) and :class:`Windows`. Each part checks itself when made. Every setting has one name
across the parts (``filters``, ``waveform_iterations``, ...), by which
:meth:`AudioStyleConfig.build` and :meth:`AudioStyleConfig.replace` set it, and each is declared
once, with :func:`option`: its default, its one-line help and its check. The command line builds
its flags from these declarations, so a new setting is one declaration.

.. note:: Deliberate departures from the reference (the measurements are in ``docs/audio.md``):

   * ``momentum = 0.99`` (Fast Griffin-Lim, Perraudin et al. 2013) instead of plain Griffin-Lim.
   * The style Gram is computed on the whole style clip, and the content is used at full length
     (the reference crops both to 430 frames).
   * ``level="optimised"``: the result is written at the level the optimisation chose, not
     peak-normalised.
   * A waveform stage (``domain="waveform"``, not the reference's; the ``fast`` and ``best``
     presets) optimises the samples themselves after, or instead of, the spectrogram stage
     (Mital 2017; Barry & Kim 2017; Caracalla & Roebel 2020), so that what is written is what
     was optimised.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Iterator, Literal, Optional

from .spectral import Spectral

InitName = Literal["noise", "shaped", "content", "auto"]
DomainName = Literal["spectrogram", "waveform"]
WaveformInitName = Literal["auto", "griffin-lim", "content", "noise", "shaped"]
ModeName = Literal["transfer", "texture"]
MODES: tuple[str, ...] = ("transfer", "texture")
Check = tuple[Callable[[Any], bool], str]  # (predicate, what a value must be)


def option(default: Any, help: str, *, check: Optional[Check] = None,
           choices: tuple[str, ...] = (), texture_choices: Optional[tuple[str, ...]] = None,
           kind: Optional[type] = None, metavar: Optional[str] = None, cli: bool = True,
           modes: tuple[str, ...] = MODES, name: Optional[str] = None,
           aliases: tuple[str, ...] = (), default_text: Optional[str] = None) -> Any:
    """A setting: a dataclass field with its one declaration.

    Args:
        default: The reference's value.
        help: One line for the command line's help and the docs; ``{name}`` names another setting.
        check: ``(predicate, "what it must be")``; ``choices`` are checked too.
        texture_choices: The choices a texture has, when fewer than ``choices``.
        kind: The value's type on the command line, when the default does not say (None).
        cli: Whether the command line offers it.
        modes: The commands (``"transfer"``, ``"texture"``) that offer it.
        name: Its name across the config, when the field's own name is not unique.
        aliases: Older names the command line still accepts.
        default_text: How the help states a default of None.
    """
    return field(default=default, metadata=dict(
        help=help, check=check, choices=choices, texture_choices=texture_choices, kind=kind,
        metavar=metavar, cli=cli, modes=modes, name=name, aliases=aliases,
        default_text=default_text))


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def int_between(lo: int, hi: float = math.inf, unit: str = "") -> Check:
    """An integer in ``[lo, hi]``."""
    if hi == math.inf:
        what = "a positive integer" if lo == 1 else ("a non-negative integer" if lo == 0 else
                                                     f"an integer of at least {lo}")
    else:
        what = f"an integer between {lo} and {hi}{' ' + unit if unit else ''}"
    return (lambda v: _is_int(v) and lo <= v <= hi, what)


POSITIVE_INT = int_between(1)
NON_NEGATIVE_INT = int_between(0)
NON_NEGATIVE: Check = (lambda v: v >= 0 and v != math.inf, "finite and non-negative")
POSITIVE: Check = (lambda v: v > 0 and v != math.inf, "positive and finite")


@dataclass(frozen=True)
class Option:
    """One setting's declaration, read off its field (see :func:`option`)."""

    name: str  # unique across the config
    part: str  # the attribute of AudioStyleConfig holding it ("" for a top-level one)
    attr: str  # its field's name within the part
    default: Any
    help: str
    check: Optional[Check]
    choices: tuple[str, ...]
    texture_choices: Optional[tuple[str, ...]]
    kind: type
    metavar: Optional[str]
    cli: bool
    modes: tuple[str, ...]
    aliases: tuple[str, ...]
    default_text: Optional[str]

    def choices_for(self, mode: str) -> tuple[str, ...]:
        return self.texture_choices if mode == "texture" and self.texture_choices else self.choices


def part_options(cls: type, part: str = "") -> list[Option]:
    """The :class:`Option` of every setting field of a part (or of the config's own)."""
    out = []
    for f in dataclasses.fields(cls):
        if "help" not in f.metadata:
            continue
        m = f.metadata
        kind = m["kind"] or (str if m["choices"] else type(f.default))
        out.append(Option(m["name"] or f.name, part, f.name, f.default, m["help"], m["check"],
                          m["choices"], m["texture_choices"], kind, m["metavar"], m["cli"],
                          m["modes"], m["aliases"], m["default_text"]))
    return out


def _describe(choices: tuple[str, ...]) -> str:
    quoted = [repr(c) for c in choices]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"


class Part:
    """A part of the config: on creation each setting is checked against its declaration
    (``ValueError`` naming it), then the part's own :meth:`check` of settings together."""

    title: ClassVar[str] = ""

    def __post_init__(self) -> None:
        for o in part_options(type(self)):
            value = getattr(self, o.attr)
            if value is None and o.default is None:
                continue
            if o.choices and value not in o.choices:
                raise ValueError(f"{o.name} must be {_describe(o.choices)}, got {value!r}")
            if o.check is not None and not _holds(o.check, value):
                raise ValueError(f"{o.name} must be {o.check[1]}, got {value!r}")
        self.check()

    def check(self) -> None:
        """Checks of several settings together (``ValueError``)."""


def _holds(check: Check, value: object) -> bool:
    try:
        return bool(check[0](value))
    except TypeError:  # a value of the wrong type
        return False


@dataclass(frozen=True)
class FrontEnd(Part):
    """The signal front end: working rate and STFT."""

    title: ClassVar[str] = "signal front end"
    sample_rate: int = option(22050, "working rate in Hz; inputs are resampled to it, the "
                              "result back", metavar="SR", check=int_between(1000, 384000, "Hz"))
    n_fft: int = option(2048, "STFT size (a Hann window of that length)", metavar="N",
                        check=int_between(16, 65536))
    hop: int = option(512, "STFT hop in samples", metavar="N", check=POSITIVE_INT)

    def check(self) -> None:
        if self.hop > self.n_fft:
            raise ValueError(f"hop must be an integer between 1 and n_fft, got {self.hop!r}")

    @property
    def spectral(self) -> Spectral:
        """The STFT settings as one object for the spectral steps."""
        return Spectral(self.n_fft, self.hop)

    @property
    def bins(self) -> int:
        """Frequency bins of the one-sided STFT: ``n_fft // 2 + 1``."""
        return self.n_fft // 2 + 1


def _widths(v: tuple[int, ...]) -> bool:
    return len(v) >= 1 and all(_is_int(k) and k >= 1 for k in v) and len(set(v)) == len(v)


@dataclass(frozen=True)
class Features(Part):
    """The random feature network (untrained 1-D convolutions over time)."""

    title: ClassVar[str] = "random features"
    filters: int = option(4096, "random filters per kernel width", metavar="N",
                          check=POSITIVE_INT)
    kernel_widths: tuple[int, ...] = option(
        (11,), "widths in frames of the random convolutions, one convolution each (a bank "
        "such as 3,11,31: Antognini et al. 2019)", metavar="K,K..", kind=int,
        aliases=("kernel_width",), check=(_widths, "one or more positive integers, none "
                                         "repeated"))
    precision: Literal["fp32", "bf16"] = option(
        "fp32", "arithmetic of the optimised convolution: fp32 (the reference's) or bf16 "
        "around an exact float32 anchor (faster on CPUs with bfloat16 instructions)",
        choices=("fp32", "bf16"))

    @property
    def receptive_frames(self) -> int:
        """Frames the widest convolution needs: the shortest usable spectrogram."""
        return max(self.kernel_widths)


@dataclass(frozen=True)
class Objective(Part):
    """The loss: Gram (style), content and autocorrelation (rhythm) terms."""

    title: ClassVar[str] = "objective"
    content_weight: float = option(1e-2, "alpha, weight of the content term", metavar="A",
                                   modes=("transfer",), check=NON_NEGATIVE)
    style_weight: float = option(1.0, "weight of the Gram term", cli=False, check=NON_NEGATIVE)
    autocorr_weight: float = option(
        0.0, "weight of the autocorrelation term (Antognini et al. 2019), which keeps a "
        "texture's rhythm; 0 turns it off, as the reference", metavar="W", check=NON_NEGATIVE)
    autocorr_seconds: float = option(2.0, "the longest lag it matches, in seconds: a few beats",
                                     metavar="S", check=POSITIVE)


@dataclass(frozen=True)
class Optimisation(Part):
    """L-BFGS (or Adam) on the spectrogram, and its start."""

    title: ClassVar[str] = "optimisation"
    iterations: int = option(300, "optimiser iterations of the spectrogram stage (of the "
                             "waveform stage when there is no spectrogram stage)", metavar="N",
                             check=NON_NEGATIVE_INT)
    optimizer: Literal["lbfgs", "adam"] = option("lbfgs", "optimiser",
                                                 choices=("lbfgs", "adam"))
    lr: Optional[float] = option(None, "step size (None: 1.0 for L-BFGS, 1e-2 for Adam)",
                                 kind=float, cli=False, check=POSITIVE)
    line_search: Optional[Literal["strong_wolfe"]] = option(
        "strong_wolfe", "L-BFGS line search (None: a fixed step)", cli=False,
        choices=("strong_wolfe", None))
    history_size: int = option(10, "L-BFGS curvature pairs, SciPy's maxcor (capped by "
                               "{lbfgs_memory_mb})", cli=False,
                               check=(lambda v: v >= 1, "at least 1"))
    lbfgs_memory_mb: int = option(1536, "ceiling on the L-BFGS history's memory, in MiB",
                                  cli=False, check=POSITIVE_INT)
    init: InitName = option("noise", "start of the spectrogram stage: randn * {init_scale}, "
                            "the log spectrogram of noise shaped like the styles' long-term "
                            "spectrum (shaped) or the content's spectrogram; auto: the "
                            "content's when the content and the styles hold their energy in "
                            "the same bands, else noise",
                            choices=("noise", "shaped", "content", "auto"),
                            texture_choices=("noise", "shaped"))
    init_scale: float = option(1e-3, "scale of the noise start (the reference's 1e-3)",
                               cli=False, check=NON_NEGATIVE)


@dataclass(frozen=True)
class Reconstruction(Part):
    """Griffin-Lim: the waveform of an optimised spectrogram."""

    title: ClassVar[str] = "reconstruction (Griffin-Lim)"
    griffin_lim_iters: int = option(500, "Griffin-Lim iterations", metavar="N",
                                    check=NON_NEGATIVE_INT)
    momentum: float = option(0.99, "Fast Griffin-Lim momentum in [0, 1); 0 is plain "
                             "Griffin-Lim, the reference's", metavar="M",
                             check=(lambda v: 0.0 <= v < 1.0, "in [0, 1)"))
    phase_init: Literal["random", "content", "pghi"] = option(
        "random", "Griffin-Lim's start phase: random (the reference's), pghi, integrated from "
        "the magnitude's gradient (Prusa et al. 2017), the best start when Griffin-Lim gets "
        "few iterations, or in a transfer the content's", choices=("random", "content", "pghi"),
        texture_choices=("random", "pghi"))


@dataclass(frozen=True)
class WaveformStage(Part):
    """The waveform stage: L-BFGS on the samples through a differentiable STFT, under the same
    features and objective; what is written is what it optimised (no phase is
    reconstructed)."""

    title: ClassVar[str] = "waveform stage"
    init: WaveformInitName = option(
        "griffin-lim", "its start: the Griffin-Lim reconstruction of a spectrogram stage, or, "
        "with no spectrogram stage, noise, noise shaped like the styles' long-term spectrum "
        "(shaped) or in a transfer the content's samples; auto: the content's samples when "
        "the content and the styles hold their energy in the same bands, else Griffin-Lim "
        "(a texture: shaped when the styles are noise-like, else Griffin-Lim)",
        name="waveform_init",
        choices=("auto", "griffin-lim", "content", "noise", "shaped"),
        texture_choices=("auto", "griffin-lim", "noise", "shaped"))
    iterations: Optional[int] = option(
        None, "its L-BFGS iterations", name="waveform_iterations", kind=int, metavar="N",
        aliases=("refine_iterations",), check=NON_NEGATIVE_INT,
        default_text="as many as {iterations}")
    filters: Optional[int] = option(
        None, "random filters per width of its own network (same seed and widths, its own "
        "targets)", name="waveform_filters", kind=int, metavar="N",
        aliases=("refine_filters",), check=POSITIVE_INT, default_text="as many as {filters}")


@dataclass(frozen=True)
class Windows(Part):
    """Long audio: optimised and reconstructed in overlapping windows of bounded memory."""

    title: ClassVar[str] = "windows"
    window_frames: int = option(2048, "frames per window (2048 x 512 / 22050 Hz: 47.6 s)",
                                cli=False, check=POSITIVE_INT)
    overlap_frames: int = option(64, "frames shared by consecutive windows, crossfaded "
                                 "(raised when the kernels or the STFT need more)", cli=False,
                                 check=NON_NEGATIVE_INT)


PARTS: dict[str, type] = {"front": FrontEnd, "features": Features, "objective": Objective,
                          "optim": Optimisation, "reconstruction": Reconstruction,
                          "waveform": WaveformStage, "windows": Windows}


@dataclass(frozen=True)
class AudioStyleConfig(Part):
    """Every setting of one audio style-transfer or texture run, in parts (see the module).

    ``waveform`` is None in the spectrogram domain (the reference's: optimise the spectrogram,
    write its Griffin-Lim reconstruction); a :class:`WaveformStage` puts the run in the
    waveform domain.
    """

    front: FrontEnd = field(default_factory=FrontEnd)
    features: Features = field(default_factory=Features)
    objective: Objective = field(default_factory=Objective)
    optim: Optimisation = field(default_factory=Optimisation)
    reconstruction: Reconstruction = field(default_factory=Reconstruction)
    waveform: Optional[WaveformStage] = None
    windows: Windows = field(default_factory=Windows)
    seed: int = option(0, "seeds the random filters, the noise start and the phase",
                       metavar="S", check=(_is_int, "an integer"))
    level: Literal["optimised", "content"] = option(
        "optimised", "loudness of the result: the level the optimisation chose, or the "
        "content's RMS (textures: the styles'); never clipped", choices=("optimised", "content"))
    # The settings a run takes instead when its (blended) styles are narrow-band tonal
    # (audiostyle.api.settle_route), or None: one route for every style.
    tonal: Optional["AudioStyleConfig"] = field(default=None, repr=False)

    def __post_init__(self) -> None:
        for name, cls in PARTS.items():
            part = getattr(self, name)
            if not isinstance(part, cls) and not (name == "waveform" and part is None):
                raise TypeError(f"{name} must be a {cls.__name__}, got {type(part).__name__}")
        if self.tonal is not None and (not isinstance(self.tonal, AudioStyleConfig)
                                       or self.tonal.tonal is not None):
            raise TypeError("tonal must be an AudioStyleConfig without a tonal route of its "
                            f"own, got {self.tonal!r}")
        if self.tonal is not None and self.tonal.front != self.front:
            raise ValueError("the tonal route must share the signal front end (the inputs "
                             f"are read once), got {self.tonal.front} against {self.front}")
        super().__post_init__()  # the config's own settings
        if self.windows.window_frames < 4 * self.overlap:
            raise ValueError(f"window_frames must be an integer of at least 4 x the overlap "
                             f"({4 * self.overlap} frames), got {self.windows.window_frames!r}")

    # --- settings by name
    @classmethod
    def build(cls, **settings: Any) -> "AudioStyleConfig":
        """The reference's config with ``settings`` changed (see :meth:`replace`)."""
        return cls().replace(**settings)

    def replace(self, **changes: Any) -> "AudioStyleConfig":
        """A copy with settings changed by their names (``filters=1024``,
        ``waveform_iterations=50``) or whole parts (``features=Features(...)``).
        ``domain="waveform"`` adds a waveform stage (default settings) when there is none,
        ``domain="spectrogram"`` removes it; the waveform stage's settings need one.
        The changes apply to the tonal route too, when there is one and ``tonal`` is not
        among them."""
        changes = dict(changes)
        fields: dict[str, Any] = {}
        if "tonal" in changes:
            fields["tonal"] = changes.pop("tonal")
        elif self.tonal is not None and changes:
            fields["tonal"] = self.tonal.replace(**changes)
        domain = changes.pop("domain", None)
        if domain not in (None, "spectrogram", "waveform"):
            raise ValueError(f"domain must be 'spectrogram' or 'waveform', got {domain!r}")
        waveform = self.waveform if domain is None else (
            None if domain == "spectrogram" else self.waveform or WaveformStage())
        if "waveform" not in changes:
            fields["waveform"] = waveform
        by_part: dict[str, dict[str, Any]] = {}
        for name, value in changes.items():
            if name in PARTS or name in ("seed", "level"):
                fields[name] = value
                continue
            o = _OPTIONS.get(name)
            if o is None:
                raise TypeError(f"AudioStyleConfig has no setting {name!r}")
            by_part.setdefault(o.part, {})[o.attr] = value
        for part, values in by_part.items():
            current = fields.get(part, getattr(self, part))
            if current is None:  # a waveform-stage setting in the spectrogram domain
                name = next(o.name for o in _OPTIONS.values() if o.part == part
                            and o.attr in values)
                raise ValueError(f"{name} needs domain 'waveform', got domain 'spectrogram' "
                                 f"with {name} {values[_OPTIONS[name].attr]!r}")
            fields[part] = dataclasses.replace(current, **values)
        return dataclasses.replace(self, **fields)

    def settings(self) -> dict[str, Any]:
        """Every setting by name (``domain`` too; the waveform stage's are None without one)."""
        out: dict[str, Any] = {"domain": self.domain}
        for o in options():
            part = getattr(self, o.part) if o.part else self
            out[o.name] = None if part is None else getattr(part, o.attr)
        return out

    # --- derived
    @property
    def domain(self) -> DomainName:
        """``"waveform"`` with a waveform stage, else ``"spectrogram"``."""
        return "spectrogram" if self.waveform is None else "waveform"

    @property
    def spectral(self) -> Spectral:
        return self.front.spectral

    @property
    def bins(self) -> int:
        return self.front.bins

    @property
    def spectrogram_stage(self) -> bool:
        """Whether a spectrogram is optimised (and reconstructed by Griffin-Lim): always in
        the spectrogram domain, and in the waveform domain when it starts from Griffin-Lim
        (or may: ``waveform_init="auto"``, which the API settles from the inputs)."""
        return self.waveform is None or self.waveform.init in ("griffin-lim", "auto")

    def budget(self, stage: str) -> int:
        """Iterations of a stage (``"spectrogram"``, ``"waveform"``): 0 for one the run does
        not have; the waveform stage's default is as many as ``iterations``."""
        if stage == "spectrogram":
            return self.optim.iterations if self.spectrogram_stage else 0
        if self.waveform is None:
            return 0
        return self.optim.iterations if self.waveform.iterations is None \
            else self.waveform.iterations

    def filters_of(self, stage: str) -> int:
        """Filters per width of a stage's network: ``filters``, or the waveform stage's own
        ``waveform_filters``."""
        if stage == "waveform" and self.waveform is not None and \
                self.waveform.filters is not None:
            return self.waveform.filters
        return self.features.filters

    @property
    def autocorr_lags(self) -> int:
        """The autocorrelation term's longest lag in frames, at least 1."""
        return max(1, int(round(self.objective.autocorr_seconds * self.front.sample_rate
                                / self.front.hop)))

    @property
    def overlap(self) -> int:
        """Frames shared by consecutive windows: ``overlap_frames``, raised if needed to the
        widest kernel plus 16 frames and to the frames one STFT frame's samples touch plus 8
        (the crossfade of Griffin-Lim blocks needs an interior)."""
        return max(self.windows.overlap_frames, self.features.receptive_frames + 16,
                   self.front.n_fft // self.front.hop + 8)

    @property
    def min_samples(self) -> int:
        """Shortest signal (at the working rate) with ``receptive_frames`` centred frames."""
        return (self.features.receptive_frames - 1) * self.front.hop


def options() -> list[Option]:
    """Every setting of :class:`AudioStyleConfig`, part by part, then the config's own."""
    out: list[Option] = []
    for name, cls in PARTS.items():
        out += part_options(cls, name)
    return out + part_options(AudioStyleConfig)


def grouped_options() -> Iterator[tuple[str, str, list[Option]]]:
    """``(title, description, settings)`` of each part, for the command line's groups."""
    for name, cls in PARTS.items():
        yield cls.title, (cls.__doc__ or "").split("\n\n")[0].strip(), part_options(cls, name)


_OPTIONS = {o.name: o for o in options()}

__all__ = ["AudioStyleConfig", "DomainName", "Features", "FrontEnd", "InitName", "MODES",
           "ModeName", "Objective", "Optimisation", "Option", "PARTS", "Reconstruction",
           "WaveformInitName", "WaveformStage", "Windows", "grouped_options", "option",
           "options"]
