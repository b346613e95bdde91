"""Hyper-parameters of audio style transfer and texture synthesis, as one dataclass.

The defaults are the reference's (Ulyanov & Lebedev 2016, "Audio texture synthesis and style
transfer", and their TensorFlow/Torch code): mono at 22050 Hz, STFT 2048/512 (Hann, centred),
S = log1p|STFT|, one random 1-D convolution of 4096 filters of width 11, alpha = 1e-2, L-BFGS for
300 iterations from randn * 1e-3, and 500 iterations of Griffin-Lim.

.. note:: Deliberate departures from the reference, each chosen by measurement:

   * ``momentum = 0.99`` (Fast Griffin-Lim, Perraudin et al. 2013) instead of plain Griffin-Lim:
     on speech and music it reaches a lower spectral convergence in the same 500 iterations.
   * None in the optimiser: :func:`shared.optimize`'s L-BFGS is the reference's SciPy
     L-BFGS-B (10 curvature pairs, Moré-Thuente line search, first step ``1 / ||g||``) run on
     the device; the reference's log shows 322 evaluations for 301 iterations, ours 1.0-1.2
     per iteration (``benchmarks/bench_audio_parity.py``).
   * The style Gram is computed on the whole style clip, and the content is used at full length
     (the reference crops both to 430 frames).
   * ``level="optimised"``: the result is written at the level the optimisation chose, not
     peak-normalised (see :mod:`audiostyle.transfer` for the held-out measurements).
   * ``domain="waveform"`` (not the reference's; the ``fast`` and ``best`` presets): after, or
     instead of, the spectrogram stage the samples themselves are optimised (Mital 2017; Barry
     & Kim 2017; Caracalla & Roebel 2020), each evaluation taking
     ``S = log1p(sqrt(re^2 + im^2 + 1e-12))`` of a differentiable STFT with the same window,
     hop and centring, the same random features and the same objective. What is written is
     what was optimised: no phase is reconstructed, so the result's own spectrogram is the
     one whose Grams were matched.
     The contract: ``iterations`` counts the spectrogram stage, ``refine_iterations`` the
     waveform stage (default: as many), ``waveform_init`` picks the waveform stage's start:
     Griffin-Lim of the spectrogram stage (the default, "refinement": the spectrogram stage
     does the coarse work cheaply, the waveform stage removes what Griffin-Lim loses), the
     content's samples (a transfer in one stage, no spectrogram stage, no Griffin-Lim) or
     noise (a texture in one stage). Use the spectrogram domain for the reference's
     behaviour or the lowest cost; the waveform domain when the written file's texture
     matters more than the run time (a waveform evaluation adds one STFT and its backward to
     a spectrogram one: 0.21 s against 0.20 s at 1024 filters on 6 s of speech, 2 CPU cores).
   * The ``fast`` and ``best`` presets (not ``default``) optimise the samples: ``fast`` a
     transfer from the content's samples (Grinstein et al. 2018 start from the content), a
     texture from noise with the rhythm term; ``best`` refines the reference's Griffin-Lim
     result (in a transfer on a network of 8192 filters, ``refine_filters``, at content
     weight 0.045; the rhythm term in a texture); see :data:`PRESETS` for the measurements
     behind them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal, Optional

from .spectral import Spectral

InitName = Literal["noise", "content"]
DomainName = Literal["spectrogram", "waveform"]
WaveformInitName = Literal["griffin-lim", "content", "noise"]
PresetName = Literal["fast", "default", "best"]
PRESET_NAMES: tuple[str, ...] = ("fast", "default", "best")


@dataclass(frozen=True)
class AudioStyleConfig:
    """Every setting of one audio style-transfer or texture run."""

    # --- signal front end
    sample_rate: int = 22050  # working rate in Hz; inputs are resampled to it, results back
    n_fft: int = 2048  # STFT size (Hann window of the same length); gives n_fft // 2 + 1 bins
    hop: int = 512  # STFT hop in samples (n_fft / 4, centred frames)
    # --- random feature network
    filters: int = 4096  # random filters per kernel width
    kernel_widths: tuple[int, ...] = (11,)  # one random 1-D conv per width (Antognini et al. 2019)
    # --- objective
    content_weight: float = 1e-2  # alpha; 0 turns style transfer into texture synthesis
    style_weight: float = 1.0  # weight of the Gram term
    autocorr_weight: float = 0.0  # weight of the feature autocorrelation term (Antognini et
    # al. 2019, audiostyle.rhythm): keeps a texture's rhythm; 0 (the reference) turns it off
    autocorr_seconds: float = 2.0  # its longest lag in seconds: a few beats. Measured on a
    # 6 s drum texture, 100 bpm (1024 filters, 50 its; onset period of the style 1.207 s,
    # read as the highest peak at hop 512, before quality.onset_period's fix of 2026-11-28):
    # weight 30 and 2 s keep it (1.207 s, held-out distance 0.589; no term: 1.068 s, 0.593);
    # 3 s: 0.604 s (0.596); weight 100: 1.184 s, 0.619 (2 s), 0.650 (4 s)
    # --- optimisation
    iterations: int = 300  # optimiser iterations
    optimizer: Literal["lbfgs", "adam"] = "lbfgs"  # the reference uses L-BFGS
    lr: Optional[float] = None  # step size (None: 1.0 for L-BFGS, 1e-2 for Adam)
    line_search: Optional[Literal["strong_wolfe"]] = "strong_wolfe"  # L-BFGS line search
    history_size: int = 10  # L-BFGS curvature pairs, SciPy's maxcor (capped by lbfgs_memory_mb)
    lbfgs_memory_mb: int = 1536  # ceiling on the L-BFGS history's memory, in MiB
    init: InitName = "noise"  # start from randn * init_scale ("noise") or the content's spectrogram
    init_scale: float = 1e-3  # scale of the noise start (the reference's 1e-3)
    # --- reconstruction
    griffin_lim_iters: int = 500  # Griffin-Lim iterations
    momentum: float = 0.99  # Fast Griffin-Lim momentum in [0, 1); 0 is the reference's plain GL
    phase_init: Literal["random", "content", "pghi"] = "random"  # Griffin-Lim's start: random
    # (the reference), the content's phase (transfer only) or PGHI, the phase integrated from
    # the magnitude's gradient (Prusa et al. 2017, audiostyle.pghi)
    # --- output level
    level: Literal["optimised", "content"] = "optimised"  # "optimised": write the level the
    # optimisation chose (Griffin-Lim's output scaled so its STFT magnitude has the optimised
    # magnitude's norm; the waveform domain's samples as they are); "content": match the
    # content's RMS (textures: the styles'). Both are peak-limited, never clipped.
    # --- domain: what is optimised and written (see the module note on domain="waveform")
    domain: DomainName = "spectrogram"  # "spectrogram": optimise S, write its Griffin-Lim
    # reconstruction (the reference); "waveform": optimise and write the samples themselves
    waveform_init: Optional[WaveformInitName] = None  # waveform domain only: start of the
    # waveform stage; None or "griffin-lim": a spectrogram stage, then its Griffin-Lim result;
    # "content": the content's samples (transfer only); "noise": randn * init_scale samples
    refine_iterations: Optional[int] = None  # waveform domain only: L-BFGS iterations on the
    # samples (the waveform stage); None: as many as `iterations`
    refine_filters: Optional[int] = None  # waveform domain only: random filters per width of
    # the waveform stage's network (its own, same seed and widths; its own style and content
    # targets); None: `filters`. More filters fit a texture that generalises better (see PRESETS)
    # --- reproducibility and execution
    seed: int = 0  # seeds the random filters, the noise start and the initial phase
    precision: Literal["fp32", "bf16"] = "fp32"  # the optimised convolution's arithmetic
    # (bf16: around a float32 anchor, see audiostyle.network.RandomConvBank)
    # --- long audio (see audiostyle.windows): longer spectrograms are optimised and
    # reconstructed in windows of at most window_frames frames sharing overlap_frames
    window_frames: int = 2048  # frames per window (2048 x 512 / 22050 Hz: 47.6 s). Measured
    # (bench_long_audio.py window sweep; 1 min of speech and music, examples/music.wav
    # style, 256 filters, 30 iterations): held-out style distance 0.948 / 0.946 / 0.953 with
    # windows of 512 / 1024 / 2048 frames against 0.951 in one piece, content distance
    # 0.782-0.788: the windows cost no quality; 2048 keeps every input under 47.6 s on the
    # one-piece path, and memory stays small (bench_long_audio.py, preset fast: 1.52 GB peak
    # for 1 minute and 1.83 GB for 10 minutes of 44.1 kHz stereo content, 30-minute style)
    overlap_frames: int = 64  # frames shared by consecutive windows (1.5 s; raised when the
    # kernels or the STFT need more, see `overlap`), crossfaded

    def __post_init__(self) -> None:
        def need(cond: bool, what: str, got: object) -> None:
            if not cond:
                raise ValueError(f"{what}, got {got!r}")

        need(isinstance(self.sample_rate, int) and 1000 <= self.sample_rate <= 384000,
             "sample_rate must be an integer between 1000 and 384000 Hz", self.sample_rate)
        need(isinstance(self.n_fft, int) and 16 <= self.n_fft <= 65536,
             "n_fft must be an integer between 16 and 65536", self.n_fft)
        need(isinstance(self.hop, int) and 1 <= self.hop <= self.n_fft,
             "hop must be an integer between 1 and n_fft", self.hop)
        need(isinstance(self.filters, int) and self.filters >= 1,
             "filters must be a positive integer", self.filters)
        need(len(self.kernel_widths) >= 1 and all(isinstance(k, int) and k >= 1
                                                  for k in self.kernel_widths),
             "kernel_widths must be one or more positive integers", self.kernel_widths)
        need(len(set(self.kernel_widths)) == len(self.kernel_widths),
             "kernel_widths must not repeat", self.kernel_widths)
        for name in ("content_weight", "style_weight", "init_scale"):
            v = getattr(self, name)
            need(v >= 0 and v != float("inf"), f"{name} must be finite and non-negative", v)
        need(self.autocorr_weight >= 0 and self.autocorr_weight != float("inf"),
             "autocorr_weight must be finite and non-negative", self.autocorr_weight)
        need(self.autocorr_seconds > 0 and self.autocorr_seconds != float("inf"),
             "autocorr_seconds must be positive and finite", self.autocorr_seconds)
        need(isinstance(self.iterations, int) and self.iterations >= 0,
             "iterations must be a non-negative integer", self.iterations)
        need(self.optimizer in ("lbfgs", "adam"), "optimizer must be 'lbfgs' or 'adam'",
             self.optimizer)
        need(self.init in ("noise", "content"), "init must be 'noise' or 'content'", self.init)
        need(isinstance(self.griffin_lim_iters, int) and self.griffin_lim_iters >= 0,
             "griffin_lim_iters must be a non-negative integer", self.griffin_lim_iters)
        need(0.0 <= self.momentum < 1.0, "momentum must be in [0, 1)", self.momentum)
        need(self.phase_init in ("random", "content", "pghi"),
             "phase_init must be 'random', 'content' or 'pghi'", self.phase_init)
        need(self.level in ("optimised", "content"), "level must be 'optimised' or 'content'",
             self.level)
        need(self.domain in ("spectrogram", "waveform"),
             "domain must be 'spectrogram' or 'waveform'", self.domain)
        need(self.waveform_init in (None, "griffin-lim", "content", "noise"),
             "waveform_init must be 'griffin-lim', 'content' or 'noise'", self.waveform_init)
        need(self.refine_iterations is None or (isinstance(self.refine_iterations, int)
                                                and self.refine_iterations >= 0),
             "refine_iterations must be a non-negative integer", self.refine_iterations)
        need(self.refine_filters is None or (isinstance(self.refine_filters, int)
                                             and self.refine_filters >= 1),
             "refine_filters must be a positive integer", self.refine_filters)
        for name in ("waveform_init", "refine_iterations", "refine_filters"):
            if self.domain != "waveform" and getattr(self, name) is not None:
                raise ValueError(f"{name} needs domain 'waveform', got domain {self.domain!r} "
                                 f"with {name} {getattr(self, name)!r}")
        need(self.history_size >= 1, "history_size must be at least 1", self.history_size)
        need(self.precision in ("fp32", "bf16"), "precision must be 'fp32' or 'bf16'",
             self.precision)
        need(isinstance(self.overlap_frames, int) and self.overlap_frames >= 0,
             "overlap_frames must be a non-negative integer", self.overlap_frames)
        need(isinstance(self.window_frames, int) and self.window_frames >= 4 * self.overlap,
             f"window_frames must be an integer of at least 4 x the overlap ({4 * self.overlap} "
             f"frames)", self.window_frames)

    @property
    def spectral(self) -> Spectral:
        """The STFT settings (``n_fft``, ``hop``) as one object for the spectral steps."""
        return Spectral(self.n_fft, self.hop)

    @property
    def bins(self) -> int:
        """Frequency bins of the one-sided STFT: ``n_fft // 2 + 1``."""
        return self.n_fft // 2 + 1

    @property
    def spectrogram_stage(self) -> bool:
        """Whether a spectrogram is optimised (and reconstructed by Griffin-Lim): always in
        the spectrogram domain, and in the waveform domain unless the waveform starts from
        the content or noise."""
        return self.domain == "spectrogram" or self.waveform_init in (None, "griffin-lim")

    @property
    def waveform_iterations(self) -> int:
        """Iterations of the waveform stage: 0 in the spectrogram domain, else
        ``refine_iterations`` (``iterations`` when that is None)."""
        if self.domain != "waveform":
            return 0
        return self.iterations if self.refine_iterations is None else self.refine_iterations

    @property
    def waveform_filters(self) -> int:
        """Filters per width of the waveform stage's network: ``refine_filters``, or
        ``filters`` when that is None."""
        return self.filters if self.refine_filters is None else self.refine_filters

    @property
    def autocorr_lags(self) -> int:
        """The autocorrelation term's longest lag in frames: ``autocorr_seconds`` at the
        working rate and hop, at least 1."""
        return max(1, int(round(self.autocorr_seconds * self.sample_rate / self.hop)))

    @property
    def overlap(self) -> int:
        """Frames shared by consecutive windows: ``overlap_frames``, raised if needed to the
        widest kernel plus 16 frames and to the frames one STFT frame's samples touch plus 8
        (the crossfade of Griffin-Lim blocks needs an interior)."""
        return max(self.overlap_frames, self.receptive_frames + 16, self.n_fft // self.hop + 8)

    @property
    def receptive_frames(self) -> int:
        """Frames the widest convolution needs: the shortest usable spectrogram."""
        return max(self.kernel_widths)

    @property
    def min_samples(self) -> int:
        """Shortest signal (at the working rate) with ``receptive_frames`` centred frames."""
        return (self.receptive_frames - 1) * self.hop

    def replace(self, **changes: object) -> "AudioStyleConfig":
        """A copy with some fields changed (``None`` values are ignored)."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})


# Presets: "default" is the reference's setting in both modes. "fast" optimises the samples
# themselves (domain="waveform", no Griffin-Lim): a transfer from the content's samples, a
# texture from noise with the rhythm term (autocorr_weight 30, which keeps the style's onset
# period). "best" is the refinement: the reference's spectrogram stage (300 iterations) and
# Griffin-Lim, then 150 iterations on the samples, which removes what Griffin-Lim lost; a
# transfer's samples are optimised on a network of 8192 filters (refine_filters) at content
# weight 0.045, a texture adds the rhythm term.
# Chosen by measurement (benchmarks/bench_audio_curves.py: the held-out measures of one run's
# samples every 50 iterations and of the written file; 10 s content and textures, full
# settings, 2 CPU cores, 2026-11-28; held-out style distance / gap closed / content distance):
# * the reference (spectrogram stage, Griffin-Lim): speech -> piano 0.584 / 0.11 / 0.637;
#   guitar -> strings 0.142 / 0.82 / 0.680; the examples 0.156 / 0.76 / 0.757; drum texture
#   0.507 (onset period 0.975 s, the style's 1.207 s); music texture 0.188 (1.231 s; 0.906 s).
# * the samples from the content ("best" before 0d43bc5, 600 iterations, weight 0.01):
#   0.099 / 0.85 / 0.626; 0.063 / 0.92 / 0.743; 0.055 / 0.92 / 0.779, in 1.8-2.1x the
#   reference's time: it keeps less of the content than the reference on two of the three.
#   From noise, or with weights 0.03 and 0.1, guitar -> strings stayed on that trade
#   (0.93 / 0.737; 0.81 / 0.716; 0.77 / 0.634).
# * the refinement, guitar -> strings, by content weight (gap closed / content distance after
#   50 and 150 waveform iterations): 0.01: 0.945 / 0.716, 0.948 / 0.715 (300 iterations);
#   0.03: 0.923 / 0.688, 0.925 / 0.687; 0.04: 0.914 / 0.677 after 100, 0.915 / 0.677; 0.1:
#   0.855 / 0.625, 0.861 / 0.628. The refinement's trade is better than the samples-from-
#   content one (0.925 / 0.687 against 0.920 / 0.743), and flat after 50-100 iterations.
#   Griffin-Lim from the content's phase before the refinement: the same (0.925 / 0.687);
#   the spectrogram stage from the content's spectrogram: 0.918 / 0.683.
#   A content weight per stage (spectrogram / waveform) moves along the same trade:
#   0.01 / 0.05: 0.920 / 0.682; 0.01 / 0.1: 0.891 / 0.656 (0.03 / 0.03: 0.925 / 0.687).
#   8192 filters (weight 0.03): 0.935 / 0.691 in 775 s, 2.6x the 4096 filters' time.
#   8192 filters in the waveform stage only (refine_filters; from one Griffin-Lim start of a
#   spectrogram stage at 4096 filters and weight 0.03; the samples as optimised): weight
#   0.035: 0.932 / 0.688, 0.045: 0.927 / 0.681, against 4096 filters at 0.035: 0.922 /
#   0.683: more filters lift the trade itself, at about twice the waveform stage's time.
#   One weight in both stages, bench_audio_quality.py in full mode (2026-11-28; 46f6b3e,
#   88ec989): 0.05: 0.918 / 0.674 in 433 s, exactly 0.100 more of the gap than the
#   reference's 0.818 / 0.680 (194 s, same session); 0.045: 0.923 / 0.678 in 449 s (2.3x):
#   "best".
# * the refinement at weight 0.03 on the other transfers: speech -> piano 0.125 / 0.81 /
#   0.535, the examples 0.064 / 0.90 / 0.707; textures (weight 30 rhythm term): drums 0.033,
#   1.207 s; music 0.034, 0.441 s (the composed beat is 0.451 s, 133 bpm; the style's onset
#   autocorrelation read at hop 512 peaks at two beats, 0.906 s, with 91% of that peak at
#   0.441 s). A rhythm term of weight 100 or 300 on the music: still 0.441 s, held-out
#   0.037, 0.051. Read with quality.onset_period as fixed on 2026-11-28 (hop 128, the first
#   near-highest peak; bench_audio_quality.py in full mode, bb88480): the styles' periods are
#   1.202 s and 0.453 s; best keeps them (1.202 s, 0.441 s: 2.6% off), the reference does
#   not (0.981 s, 1.207 s); best's texture rows are unchanged (0.033, 0.034).
#   bench_audio_quality.py in full mode on that preset (0d43bc5): the same figures, 195-298 s,
#   1.2-1.4x the reference's time; guitar -> strings misses the content by 0.007.
#   The preset now (8192 filters on the samples, weight 0.045; 88ec989, same run as the
#   reference's rows): speech -> piano 0.129 / 0.81 / 0.504 in 454 s (2.3x the reference's
#   197 s), the examples 0.066 / 0.90 / 0.692 in 294 s (2.2x 131 s), guitar -> strings
#   0.060 / 0.92 / 0.678 in 448 s (2.3x 194 s); the 48 kHz stereo guitar, per channel:
#   0.060 / 0.924 / 0.678 in 896 s against the reference's 0.135 / 0.828 / 0.679 in 393 s
#   (2.3x), 0.096 more of the gap. That reference figure was flattered by the resampler
#   (before f51ab3a, audiostyle.audio.RESAMPLE_FILTER): its soft filter took 3-5 dB off the
#   written 48 kHz file's top band on the way back to 22050 Hz, where the reference has
#   Griffin-Lim's hiss and the strings have nothing. With the flat filter (f51ab3a, one run,
#   2026-11-28): reference 0.145 / 0.816 / 0.679 in 386 s, best 0.061 / 0.923 / 0.678 in
#   980 s (2.5x): 0.107 more of the gap; fast 0.443 / 0.437 / 0.630 in 44 s. The whole
#   table again in one run (c769aab): every figure the same, best 1.5-2.3x the reference's
#   time (stereo 885 s against 389 s).
#   More filters on the samples stop paying at 8192: from one Griffin-Lim start (mono
#   guitar -> strings, weight 0.045, the samples as optimised) 12288 filters gave 0.930 /
#   0.683 in 442 s against 8192's 0.927 / 0.681 in 246 s: the same trade.
# * before the soft limiter of the waveform stage (audiostyle.audio.soft_limit) the
#   refinement of a loud Griffin-Lim result was written scaled down: speech -> piano 0.086
#   on the samples, 0.615 written; drums 0.030 and 0.158.
# "fast": 2048 filters, 80 iterations on the samples: 10 s in 16-28 s on 2 cores; speech ->
# piano 0.211 / 0.68 / 0.572 after 80 iterations (0.307 / 0.53 after 30, 0.194 / 0.71 after
# 100); drums 0.254 after 80 iterations, 1.207 s.
PRESETS: dict[str, dict[str, object]] = {
    "fast": dict(filters=2048, iterations=80, domain="waveform", waveform_init="content"),
    "default": dict(),
    "best": dict(iterations=300, domain="waveform", waveform_init="griffin-lim",
                 refine_iterations=150, refine_filters=8192, content_weight=0.045),
}
TEXTURE_PRESETS: dict[str, dict[str, object]] = {
    "fast": dict(filters=2048, iterations=80, domain="waveform", waveform_init="noise",
                 autocorr_weight=30.0),
    "default": dict(),
    "best": dict(iterations=300, domain="waveform", waveform_init="griffin-lim",
                 refine_iterations=150, autocorr_weight=30.0),
}


ModeName = Literal["transfer", "texture"]
_WAVEFORM_ONLY = ("waveform_init", "refine_iterations", "refine_filters")


def preset_config(name: str = "default", mode: ModeName = "transfer",
                  **overrides: object) -> AudioStyleConfig:
    """The config of a named preset for a ``mode`` (``"transfer"``: :data:`PRESETS`;
    ``"texture"``: :data:`TEXTURE_PRESETS`), with ``overrides`` (``None`` values ignored)
    applied. An override of ``domain`` to ``"spectrogram"`` drops the preset's waveform-stage
    settings (``waveform_init``, ``refine_iterations``, ``refine_filters``) rather than
    failing on them. A preset's ``refine_filters`` is a multiple of its ``filters``, and an
    override of ``filters`` alone keeps that multiple (``best`` with ``filters=1024``: a
    waveform stage of 2048)."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESET_NAMES)}")
    if mode not in ("transfer", "texture"):
        raise ValueError(f"mode must be 'transfer' or 'texture', got {mode!r}")
    fields = dict((PRESETS if mode == "transfer" else TEXTURE_PRESETS)[name])
    if overrides.get("domain") == "spectrogram":
        fields = {k: v for k, v in fields.items() if k not in _WAVEFORM_ONLY}
    refine, filters = fields.get("refine_filters"), overrides.get("filters")
    if refine is not None and filters is not None and overrides.get("refine_filters") is None:
        base = int(fields.get("filters", AudioStyleConfig.filters))  # type: ignore[arg-type]
        fields["refine_filters"] = max(1, int(refine) * int(filters) // base)  # type: ignore
    fields.update({k: v for k, v in overrides.items() if v is not None})
    return AudioStyleConfig(**fields)  # type: ignore[arg-type]


__all__ = ["AudioStyleConfig", "DomainName", "InitName", "ModeName", "PRESETS", "PRESET_NAMES",
           "PresetName", "TEXTURE_PRESETS", "WaveformInitName", "preset_config"]
