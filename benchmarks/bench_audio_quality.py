"""Quality benchmark (issue 9): each pipeline of ``audiostyle`` on generated speech and music
and on ``examples/*.wav``, measured on the written result with the held-out network of
:mod:`audiostyle.quality` (seed 1234, widths 5 and 25: no tool setting uses them).

Table 1, per case and pipeline: held-out style distance of the result (lower is closer to the
style's texture); the share of the gap closed (transfers: ``1 - d / d(content)``; textures:
``1 - d / d(noise)``, white noise at the style's level being where a texture starts, see
:func:`noise_distance`); for transfers the held-out content distance (lower keeps more of
the content), for textures the onset period (the rhythm's period,
:func:`audiostyle.quality.onset_period`) against the style's; the spectral convergence of the
Griffin-Lim stage (none in one-stage waveform runs) and the wall time (features,
optimisation, reconstruction). A stereo case is measured as ``audiostyle --metrics`` measures
a ``--stereo`` result (:func:`audiostyle.quality.quality_measures`): each channel against its
content channel, the mean over channels in table 1 and the downmix in a table after it.

Pipelines: ``reference`` (the defaults, the faithful reference), ``pghi`` and ``content-phase``
(Griffin-Lim started from PGHI's or the content's phase; transfers), ``waveform`` (a waveform
refinement stage after the reference's spectrogram stage), ``autocorr`` (the autocorrelation
term; textures), ``fast`` and ``best`` (the presets: ``fast`` optimises the samples from the
content's, or for textures from noise with the autocorrelation term; ``best`` refines the
reference's Griffin-Lim result on the samples). With ``--tf-python``, ``tf`` is the authors'
notebook ported to TF 2 (``reference_tf.py``), mono as the notebook is (a stereo case's content
downmixed, and measured against the downmix), and ``tf-channels`` the notebook run on each
channel of a stereo case in turn, measured per channel as the tool's ``--stereo`` results are
(skipped on mono cases). ``bench_audio_curves.py`` follows
one run's held-out measures along its iterations, which is how the presets' budgets were
chosen.

Table 2, phase retrieval alone: spectral convergence of Griffin-Lim from a random phase and
from PGHI's, after 0 .. N iterations, on the real magnitudes of the speech and music clips.

    python benchmarks/bench_audio_quality.py --quick     # minutes: 512 filters, 30 its, 4 s,
                                                         # two cases
    python benchmarks/bench_audio_quality.py             # reduced: 1024 filters, 50 its, 6 s
    python benchmarks/bench_audio_quality.py --full      # the reference's settings, 10 s
    python benchmarks/bench_audio_quality.py --pipelines reference,pghi --cases texture-drums
    python benchmarks/bench_audio_quality.py --textures --full --pipelines tf,fast
    python benchmarks/bench_audio_quality.py --wide --full --cases transfer-piano-strings \
        --variant 'fast-200=--preset fast --iterations 200' --pipelines reference,fast-200

The reduced and quick runs override filters, iterations and Griffin-Lim iterations in every
pipeline but ``fast`` (which is already small); ``best`` is then marked ``best*``. Generated
media need espeak-ng, sox, fluidsynth, fluid-soundfont-gm (``media.py``).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from media import Clip, clip_path  # noqa: E402

from audiostyle import load_audio  # noqa: E402
from audiostyle.cli import main as audiostyle_main  # noqa: E402
from audiostyle.pghi import pghi  # noqa: E402
from audiostyle.quality import heldout_style_distance, onset_period  # noqa: E402
from audiostyle.spectral import griffin_lim, magnitude, spectral_convergence  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


@dataclass(frozen=True)
class Case:
    """One row group: a transfer (``content`` given) or a texture of the style."""

    name: str
    style: "Clip | Path"
    content: "Clip | Path | None" = None
    stereo: bool = False  # run with --stereo (measured per channel; the downmix apart)


def wide_cases(seconds: float) -> list[Case]:
    """Styles unlike our music (issue 22): tonal, noise-like, percussive, speech, polyphonic;
    short (1.5 s) and long (40 s); mono and stereo; 22.05, 44.1 and 48 kHz."""
    return [
        Case("transfer-guitar48k-ring", Clip("ring", 1.5, 48000, 2),
             Clip("guitar", seconds, rate=48000, subtype="PCM_24")),
        Case("transfer-speech-sines", Clip("sines", 1.5), Clip("speech", seconds)),
        Case("transfer-guitar-organ", Clip("organ", 8), Clip("guitar", seconds)),
        Case("transfer-speech-whistle", Clip("whistle", 4), Clip("speech", seconds)),
        Case("transfer-piano-rain", Clip("rain", 10), Clip("piano", seconds)),
        Case("transfer-speech-applause", Clip("applause", 10), Clip("speech", seconds)),
        Case("transfer-guitar-wind40s", Clip("wind", 40), Clip("guitar", seconds)),
        Case("transfer-speech-drums", Clip("drums", 10), Clip("speech", seconds)),
        Case("transfer-piano-speech", Clip("speech", 10), Clip("piano", seconds)),
        Case("transfer-speech-mix44k", Clip("mix", 10, 44100), Clip("speech", seconds)),
        Case("transfer-piano-strings", Clip("strings", 12), Clip("piano", seconds)),
        Case("transfer-stereo-48k-guitar-strings", Clip("strings", 12),
             Clip("guitar", seconds, rate=48000, channels=2, subtype="PCM_24"), stereo=True),
        Case("texture-strings", Clip("strings", 12)),
        Case("texture-ring", Clip("ring", 1.5, 48000, 2)),
        Case("texture-rain", Clip("rain", 10)),
        Case("texture-drums", Clip("drums", 10)),
    ]


def texture_cases(seconds: float) -> list[Case]:
    """The texture styles ``fast``'s start rule was measured on
    (:data:`audiostyle.api.NOISE_FLATNESS`): the wide set's four and 19 more, noise-like
    (steady and under tremolos), tonal, harmonic, percussive and spoken."""
    more = (("applause", 10), ("wind", 40), ("speech", 10), ("organ", 8), ("sines", 1.5),
            ("whistle", 4), ("mix", 10, 44100), ("brown", 6), ("pink", 6), ("trem", 6),
            ("bandnoise", 6), ("hum", 6), ("chord", 4), ("pluck", 4, 44100), ("speech2", 5),
            ("pulse8", 6), ("breath", 6), ("engine", 6), ("trem50", 6))
    return [c for c in wide_cases(seconds) if c.content is None] + [
        Case(f"texture-{kind}", Clip(kind, secs, *rate)) for kind, secs, *rate in more]


def cases(seconds: float) -> list[Case]:
    return [
        Case("transfer-speech-piano", Clip("piano", 10), Clip("speech", seconds)),
        Case("transfer-guitar-strings", Clip("strings", 12), Clip("guitar", seconds)),
        Case("transfer-examples", EXAMPLES / "music.wav", EXAMPLES / "speech.wav"),
        Case("texture-drums", Clip("drums", 10)),
        Case("texture-examples-music", EXAMPLES / "music.wav"),
        Case("transfer-stereo-48k-guitar-strings", Clip("strings", 12),
             Clip("guitar", seconds, rate=48000, channels=2, subtype="PCM_24"), stereo=True),
    ]


AUTOCORR_WEIGHT = 30.0  # chosen on the drum texture: see audiostyle.rhythm
# name -> (extra CLI arguments, applies to "transfer" / "texture" / "both")
PIPELINES: dict[str, tuple[list[str], str]] = {
    "reference": ([], "both"),  # the tool's defaults: the reference's settings
    "tf": ([], "both"),  # the authors' notebook ported to TF 2 (reference_tf.py; --tf-python)
    "tf-channels": ([], "both"),  # the same on each channel of a stereo case (skipped on mono)
    "pghi": (["--phase-init", "pghi"], "transfer"),
    "content-phase": (["--phase-init", "content"], "transfer"),
    "waveform": (["--domain", "waveform"], "both"),
    "autocorr": (["--autocorr-weight", str(AUTOCORR_WEIGHT)], "texture"),
    "fast": (["--preset", "fast"], "both"),
    "best": (["--preset", "best"], "both"),
}


def _path(clip: "Clip | Path", media: Path) -> Path:
    return clip if isinstance(clip, Path) else clip_path(clip, media)


def run_tf(case: Case, paths: dict[str, Path], out: Path, reduced: dict[str, int],
           seconds: float, tf_python: str, channels: bool = False) -> dict:
    """The TF notebook (``bench_audio_parity.run_tf``: the same network, start and targets as
    the tool's defaults), measured like the tool's results: on the downmix, as the notebook
    is mono; with ``channels`` (a stereo case only) on each channel in turn, as ``--stereo``
    runs the tool, and measured per channel as its stereo results are."""
    from audiostyle import AudioStyleConfig
    from audiostyle.audio import save_audio
    from audiostyle.quality import quality_measures
    from bench_audio_parity import Case as ParityCase, run_tf as parity_tf

    config = AudioStyleConfig.build(**reduced)
    pcase = ParityCase(case.name, case.style, case.content, seconds=seconds,  # type: ignore[arg-type]
                       stereo=channels)
    with tempfile.TemporaryDirectory() as tmp:
        r = parity_tf(pcase, paths, config, out, tf_python, Path(tmp))
        if channels:  # parity_tf writes channel 0 to out and channel 1 beside it
            right = load_audio(Path(tmp) / f"{case.name}_tf_1.wav")
            left = load_audio(out)
            n = min(left.samples.shape[-1], right.samples.shape[-1])
            save_audio(out, torch.cat([left.samples[:, :n], right.samples[:, :n]]),
                       left.sample_rate)
    written, style = load_audio(out), load_audio(paths["style"])
    content = load_audio(paths["content"]) if "content" in paths else None
    content_wave = (None if content is None else content.samples if channels
                    else content.samples.mean(0, keepdim=True))
    q = quality_measures(written.samples, written.sample_rate, [style.samples],
                         [style.sample_rate], None, content_wave,
                         None if content is None else content.sample_rate)
    return _row(q, None, r["wall"], r["wall"], paths, out, content is None)


def _row(q: dict, convergence: Optional[float], wall: float, run_seconds: float,
         paths: dict[str, Path], out: Path, texture: bool) -> dict:
    row = {"held_out": q["heldout_style_distance"], "gap_closed": q["gap_closed"],
           "content_distance": q["content_distance"], "oob": q["out_of_band_share"],
           "centroid": q["centroid_hz"], "style_centroid": q["style_centroid_hz"],
           "convergence": convergence, "wall": wall, "run_seconds": run_seconds,
           "downmix": q.get("downmix"), "path": out}
    if texture:
        written = load_audio(out)
        row["period"] = onset_period(written.samples, written.sample_rate)
        row["gap_closed"] = 1.0 - row["held_out"] / noise_distance(paths["style"])
    return row


def run(case: Case, pipeline: str, paths: dict[str, Path], out: Path, reduced: dict[str, int],
        seconds: float, autocorr_seconds: Optional[float], tf_python: Optional[str] = None
        ) -> dict:
    if pipeline in ("tf", "tf-channels"):
        if tf_python is None:
            raise SystemExit("the tf pipeline needs --tf-python (a Python with tensorflow-cpu)")
        return run_tf(case, paths, out, reduced, seconds, tf_python,
                      channels=pipeline == "tf-channels" and case.stereo)
    extra, _ = PIPELINES[pipeline]
    transfer = "content" in paths
    args = (["transfer", str(paths["content"]), str(paths["style"])] if transfer
            else ["texture", str(paths["style"]), "--seconds", str(seconds)])
    args += ["-o", str(out), "--metrics", str(out.with_suffix(".json")), "--quiet",
             "--device", "cpu", *extra, *(["--stereo"] if case.stereo else [])]
    if reduced and not pipeline.startswith("fast"):
        args += ["--filters", str(reduced["filters"]), "--iterations", str(reduced["iterations"]),
                 "--griffin-lim-iters", str(reduced["griffin_lim_iters"])]
    if "autocorr" in pipeline and autocorr_seconds is not None:
        args += ["--autocorr-seconds", str(autocorr_seconds)]
    t = time.perf_counter()
    if audiostyle_main(args) != 0:
        raise RuntimeError(f"audiostyle failed: {' '.join(args)}")
    wall = time.perf_counter() - t
    m = json.loads(out.with_suffix(".json").read_text())
    seconds_run = sum(v for k, v in m["seconds"].items() if k not in ("load", "write"))
    return _row(m["quality"], m["spectral_convergence"], wall, seconds_run, paths, out,
                not transfer)


def noise_distance(style_path: Path) -> float:
    """A texture's gap: the held-out style distance of white noise at the style's RMS level
    and length (seed 0), where a texture's optimisation starts; ``1 - d(result) / d(noise)``
    is then the share of it a texture closes, as ``gap_closed`` is for a transfer."""
    style = load_audio(style_path)
    noise = torch.randn(style.samples.shape, generator=torch.Generator().manual_seed(0))
    noise = noise * style.samples.pow(2).mean().sqrt()  # (C, N) at the style's RMS
    return heldout_style_distance(noise, [style.samples], style.sample_rate,
                                  [style.sample_rate])


def phase_table(paths: dict[str, Path], iterations: list[int]) -> list[tuple]:
    """Spectral convergence of Griffin-Lim (momentum 0.99, 2048/512) from a random and from
    PGHI's phase on each clip's own magnitude, after each count of ``iterations``."""
    rows = []
    for name, path in paths.items():
        clip = load_audio(path)
        wave = clip.samples.mean(0, keepdim=True)  # (1, N)
        mag = magnitude(wave, 2048, 512)  # (1, F, T)
        t = time.perf_counter()
        start = pghi(mag, 2048, 512)
        pghi_seconds = time.perf_counter() - t
        for label, init in (("random", None), ("pghi", start)):
            sc = [spectral_convergence(mag, griffin_lim(
                mag, 2048, 512, n, 0.99, length=wave.shape[-1],
                generator=torch.Generator().manual_seed(0), init_phase=init), 2048, 512)
                for n in iterations]
            rows.append((name, label, sc, pghi_seconds if init is not None else 0.0))
    return rows


def start_table(cases_: list[Case], media: Path, reduced: dict[str, int], seconds: float,
                iterations: list[int]) -> list[tuple]:
    """Griffin-Lim's start on *optimised* spectrograms: each case's spectrogram stage is run
    once (from noise, and for transfers also from the content), then reconstructed from a
    random, the content's and PGHI's phase with each count of ``iterations``; spectral
    convergence and held-out style distance of each reconstruction."""
    from audiostyle import AudioStyleConfig, style_transfer, texture_synthesis
    from audiostyle.quality import heldout_style_distance
    from audiostyle.spectral import log_to_magnitude, match_spectral_level, phase
    from audiostyle.api import working_signal

    rows = []
    base = AudioStyleConfig(**{**reduced, "griffin_lim_iters": 0})  # type: ignore[arg-type]
    for case in cases_:
        style = load_audio(_path(case.style, media))
        content = None if case.content is None else load_audio(_path(case.content, media))
        inits = ["noise"] if content is None else ["noise", "content"]
        for init in inits:
            cfg = base.replace(init=init)
            if content is None:
                res = texture_synthesis([style], seconds, cfg, device="cpu")
                c_wave = None
            else:
                res = style_transfer(content, [style], cfg, device="cpu")
                c_wave = working_signal(content, cfg, False, "content")  # (1, N)
            mag = log_to_magnitude(res.spectrogram)  # (1, F, T)
            length = (mag.shape[-1] - 1) * cfg.front.hop if c_wave is None else c_wave.shape[-1]
            starts: dict[str, Optional[torch.Tensor]] = {"random": None}
            if c_wave is not None:
                starts["content"] = phase(c_wave, cfg.front.n_fft, cfg.front.hop)
            t = time.perf_counter()
            starts["pghi"] = pghi(mag, cfg.front.n_fft, cfg.front.hop)
            pghi_s = time.perf_counter() - t
            for label, start in starts.items():
                cells = []
                for n in iterations:
                    wave = griffin_lim(mag, cfg.front.n_fft, cfg.front.hop, n, cfg.reconstruction.momentum, length=length,
                                       generator=torch.Generator().manual_seed(0),
                                       init_phase=start)
                    wave = match_spectral_level(wave, mag, cfg.front.n_fft, cfg.front.hop)
                    cells.append((spectral_convergence(mag, wave, cfg.front.n_fft, cfg.front.hop),
                                  heldout_style_distance(wave, [style.samples], cfg.front.sample_rate,
                                                         [style.sample_rate])))
                rows.append((case.name, init, label, cells, pghi_s if label == "pghi" else None))
    return rows


def frechet(a: dict, b: dict) -> float:
    """Fréchet distance of two Gaussians ``{"mean": (D,), "cov": (D, D)}`` (as FAD)."""
    import numpy as np
    from scipy import linalg

    m1, m2 = np.asarray(a["mean"]), np.asarray(b["mean"])
    c1, c2 = np.asarray(a["cov"]), np.asarray(b["cov"])
    root = linalg.sqrtm(c1 @ c2).real
    return float(((m1 - m2) ** 2).sum() + np.trace(c1 + c2 - 2 * root))


def tagger_distances(rows: list, case_paths: dict[str, dict[str, Path]], judge_python: str,
                     tmp: Path) -> None:
    """Add each row's ``tagger`` (the Fréchet distance of the musicnn embeddings of its result
    to its style's) and ``tagger_content`` (the content's own, a transfer's gap)."""
    import subprocess

    files = sorted({str(r["path"]) for _, _, r in rows}
                   | {str(p) for ps in case_paths.values() for p in ps.values()})
    out = tmp / "judge.json"
    proc = subprocess.run([judge_python, str(Path(__file__).with_name("judge_musicnn.py")),
                           str(out), *files], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"judge_musicnn.py failed: {proc.stderr[-800:]}")
    emb = json.loads(out.read_text())
    for name, _, r in rows:
        paths = case_paths[name]
        style = emb[str(paths["style"])]
        r["tagger"] = frechet(emb[str(r["path"])], style)
        r["tagger_content"] = (frechet(emb[str(paths["content"])], style)
                               if "content" in paths else None)


def wide_table(rows: list, reduced: dict[str, int], seconds: float) -> None:
    """The wide table: every case and pipeline, every measure."""
    settings = (f"reduced: {reduced['filters']} filters, {reduced['iterations']} L-BFGS "
                f"iterations, {reduced['griffin_lim_iters']} Griffin-Lim iterations, except "
                f"fast" if reduced else "full: each pipeline's own settings")
    print(f"\naudio quality on styles unlike our music, {settings}; content and textures "
          f"{seconds:g} s; every file measured at one RMS; CPU, {torch.get_num_threads()} "
          f"threads\n")
    print("gap: share of the held-out gap closed (transfers: of the content's distance to the "
          "style; textures: of white noise's); content: held-out content distance; outside: "
          "share of the result's energy in third-octave bands where the style has under 1 %; "
          "centroid: the result's spectral centroid in Hz (the style's); tagger: Fréchet "
          "distance of musicnn embeddings to the style's (the content's own)\n")
    print("| case | pipeline | held-out | gap | content | outside | centroid Hz (style) | "
          "tagger (content) | run s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, pipe, r in rows:
        label = pipe.replace("best", "best*") if reduced else pipe
        tagger = ("-" if r.get("tagger") is None else f"{r['tagger']:.0f}"
                  + (f" ({r['tagger_content']:.0f})" if r.get("tagger_content") else ""))
        print(f"| {name} | {label} | {_f(r['held_out'], 4)} | {_f(r['gap_closed'])} | "
              f"{_f(r['content_distance'])} | {_f(r['oob'])} | {r['centroid']:.0f} "
              f"({r['style_centroid']:.0f}) | {tagger} | {r['run_seconds']:.1f} |")


def _f(v: Optional[float], digits: int = 3) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--full", action="store_true",
                   help="the reference's settings (4096 filters, 300 iterations, 500 "
                        "Griffin-Lim) and 10 s clips; presets as defined")
    p.add_argument("--quick", action="store_true",
                   help="a few minutes on 2 idle cores: 512 filters, 30 iterations, 60 "
                        "Griffin-Lim iterations, 4 s, the cases transfer-examples and "
                        "texture-drums, the pipelines reference, pghi, waveform, autocorr, "
                        "fast, best")
    p.add_argument("--pipelines", help="comma-separated pipelines (default: all)")
    p.add_argument("--cases", help="comma-separated case names (default: all)")
    p.add_argument("--seconds", type=float, help="content and texture length (default: 6 "
                   "reduced, 10 full)")
    p.add_argument("--autocorr-seconds", type=float, help="the autocorr pipeline's lag span "
                   "(default: the tool's)")
    p.add_argument("--phase-iterations", default="0,10,50,100",
                   help="Griffin-Lim iterations of table 2 (default: %(default)s)")
    p.add_argument("--no-phase-table", action="store_true")
    p.add_argument("--start-table", action="store_true",
                   help="table 3 only: Griffin-Lim's start on optimised spectrograms")
    p.add_argument("--media", default=str(Path(tempfile.gettempdir()) / "styletoolkit_media"),
                   help="cache folder for the generated recordings")
    p.add_argument("--wide", action="store_true",
                   help="the wide case set (styles unlike our music: tonal, noise-like, "
                        "percussive, speech, a mix; short and long; 22.05, 44.1 and 48 kHz) and "
                        "the pipelines tf (with --tf-python), reference, fast, best")
    p.add_argument("--textures", action="store_true",
                   help="the texture styles of fast's start rule (texture_cases: the wide "
                        "set's and 19 more) and the pipelines of --wide")
    p.add_argument("--tf-python", help="a Python with tensorflow-cpu, scipy, librosa, "
                   "soundfile: runs the tf pipeline (the authors' notebook, reference_tf.py)")
    p.add_argument("--judge-python", help="a Python with musicnn (judge_musicnn.py): adds the "
                   "trained tagger's Fréchet distance of each result to its style")
    p.add_argument("--keep", help="copy every written result into this folder")
    p.add_argument("--variant", action="append", default=[], metavar="NAME=ARGS",
                   help="one more pipeline: NAME runs audiostyle with ARGS (for example "
                        "'best-cw=--preset best --content-weight 0.01'); add NAME to "
                        "--pipelines; repeatable")
    args = p.parse_args()
    for spec in args.variant:
        name, sep, extra = spec.partition("=")
        if not sep or not name.strip() or name.strip() in PIPELINES:
            p.error(f"--variant wants NAME=ARGS with a new NAME, got {spec!r}")
        PIPELINES[name.strip()] = (shlex.split(extra), "both")
    seconds = args.seconds or (10.0 if args.full else 4.0 if args.quick else 6.0)
    reduced = ({} if args.full else
               {"filters": 512, "iterations": 30, "griffin_lim_iters": 60} if args.quick else
               {"filters": 1024, "iterations": 50, "griffin_lim_iters": 100})
    media = Path(args.media)
    chosen = (set(args.cases.split(",")) if args.cases else
              {"transfer-examples", "texture-drums"} if args.quick else None)
    pipes = (args.pipelines.split(",") if args.pipelines else
             (["tf", "tf-channels"] if args.tf_python else []) + ["reference", "fast", "best"]
             if args.wide or args.textures
             else ["reference", "pghi", "waveform", "autocorr", "fast", "best"] if args.quick
             else [k for k in PIPELINES if not k.startswith("tf")])
    if (args.wide or args.textures) and not args.cases:
        chosen = None
    unknown = set(pipes) - set(PIPELINES)
    if unknown:
        p.error(f"unknown pipelines {sorted(unknown)}; choose from {', '.join(PIPELINES)}")
    if args.start_table:
        its = [int(v) for v in args.phase_iterations.split(",")]
        chosen_cases = [c for c in cases(seconds) if chosen is None or c.name in chosen]
        print("\nGriffin-Lim's start on the optimised spectrogram (spectrogram stage "
              f"{'reduced' if reduced else 'full'}, once per case and init): spectral "
              "convergence / held-out style distance after N iterations\n")
        print("| case | optimisation from | start | " + " | ".join(f"N={n}" for n in its)
              + " | PGHI s |")
        print("|---|---|---|" + "---|" * len(its) + "---|")
        for name, init, label, cells, secs in start_table(chosen_cases, media, reduced, seconds,
                                                          its):
            print(f"| {name} | {init} | {label} | "
                  + " | ".join(f"{sc:.3f} / {h:.3f}" for sc, h in cells)
                  + f" | {_f(secs, 2)} |")
        return
    rows = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        case_paths: dict[str, dict[str, Path]] = {}
        for case in (texture_cases if args.textures else wide_cases if args.wide
                     else cases)(seconds):
            if chosen is not None and case.name not in chosen:
                continue
            paths = {"style": _path(case.style, media)}
            if case.content is not None:
                paths["content"] = _path(case.content, media)
            kind = "transfer" if case.content is not None else "texture"
            case_paths[case.name] = paths
            style_period = None
            if kind == "texture":
                s = load_audio(paths["style"])
                style_period = onset_period(s.samples, s.sample_rate)
            for pipe in pipes:
                if PIPELINES[pipe][1] not in ("both", kind) or (pipe == "tf-channels"
                                                                 and not case.stereo):
                    continue
                r = run(case, pipe, paths, tmp / f"{case.name}_{pipe}.wav", reduced, seconds,
                        args.autocorr_seconds, args.tf_python)
                r["style_period"] = style_period
                rows.append((case.name, pipe, r))
                print(f"done {case.name} {pipe}: held-out {_f(r['held_out'], 4)}, gap "
                      f"{_f(r['gap_closed'])}, content {_f(r['content_distance'])}, period "
                      f"{_f(r.get('period'))} ({_f(style_period)}), {r['wall']:.0f} s",
                      file=sys.stderr, flush=True)

        if args.judge_python:
            tagger_distances(rows, case_paths, args.judge_python, tmp)
        if args.keep:
            import shutil

            Path(args.keep).mkdir(parents=True, exist_ok=True)
            for name, pipe, r in rows:
                shutil.copyfile(r["path"], Path(args.keep) / r["path"].name)

    if args.wide or args.textures:
        wide_table(rows, reduced, seconds)
        return
    settings = (f"reduced: {reduced['filters']} filters, {reduced['iterations']} L-BFGS "
                f"iterations, {reduced['griffin_lim_iters']} Griffin-Lim iterations, except "
                f"fast" if reduced
                else "full: each pipeline's own settings")
    print(f"\naudio quality, {settings}; content and textures {seconds:g} s; CPU, "
          f"{torch.get_num_threads()} threads\n")
    print("| case | pipeline | held-out style dist. | gap closed | content dist. | "
          "onset period s (style) | spectral conv. | run s |")
    print("|---|---|---|---|---|---|---|---|")
    for name, pipe, r in rows:
        label = pipe.replace("best", "best*") if reduced else pipe
        period = ("-" if r.get("period") is None
                  else f"{r['period']:.3f} ({r['style_period']:.3f})")
        print(f"| {name} | {label} | {_f(r['held_out'], 4)} | {_f(r['gap_closed'])} | "
              f"{_f(r['content_distance'])} | {period} | {_f(r['convergence'])} | "
              f"{r['run_seconds']:.1f} |")

    stereo = [(name, pipe, r["downmix"]) for name, pipe, r in rows if r.get("downmix")]
    if stereo:
        print("\nstereo rows above are the means over channels (each channel against its "
              "content channel); their downmixes:\n")
        print("| case | pipeline | held-out style dist. | gap closed | content dist. |")
        print("|---|---|---|---|---|")
        for name, pipe, d in stereo:
            print(f"| {name} | {pipe} | {_f(d['heldout_style_distance'], 4)} | "
                  f"{_f(d['gap_closed'])} | {_f(d['content_distance'])} |")

    if not args.no_phase_table:
        its = [int(v) for v in args.phase_iterations.split(",")]
        clips = {"speech (examples)": EXAMPLES / "speech.wav",
                 "music (examples)": EXAMPLES / "music.wav",
                 "speech (espeak)": clip_path(Clip("speech", seconds), media),
                 "drums (fluidsynth)": clip_path(Clip("drums", 10), media)}
        print("\nphase retrieval alone (the clip's own magnitude, Fast Griffin-Lim 0.99): "
              "spectral convergence after N iterations\n")
        print("| clip | start | " + " | ".join(f"N={n}" for n in its) + " | PGHI s |")
        print("|---|---|" + "---|" * len(its) + "---|")
        for name, label, sc, secs in phase_table(clips, its):
            print(f"| {name} | {label} | " + " | ".join(f"{v:.4f}" for v in sc)
                  + f" | {secs:.2f} |" if label == "pghi" else
                  f"| {name} | {label} | " + " | ".join(f"{v:.4f}" for v in sc) + " | - |")


if __name__ == "__main__":
    from results import recorded

    with recorded("bench_audio_quality"):
        main()
