"""``audiostyle``: audio style transfer, audio texture synthesis and spectrogram plots.

    audiostyle transfer CONTENT STYLE [STYLE ...] -o OUT [options]
    audiostyle texture STYLE [STYLE ...] -o OUT --seconds T [options]
    audiostyle plot IN [IN ...] -o OUT.png

Every input and output is checked before the optimisation starts; a bad one is reported as one
line naming the file and the problem, with exit status 2 and no output written. The library's
errors name its parameters; :data:`FLAGS` turns those names into this tool's flags.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional, Sequence

from shared import (UserError, atomic_write, check_output_path, deferred_interrupts,
                    select_device)
from shared.cli import ArgumentParser, sys_exit

from .audio import AudioClip, check_audio_output, load_audio, save_audio
from .stream import AudioFile, Source, open_audio
from .config import PRESET_NAMES, AudioStyleConfig, preset_config
from .parallel import init_from_env, leave, parse_devices, spawn

if TYPE_CHECKING:
    from torch import Tensor

    from .transfer import AudioResult

PLOT_SUFFIXES = (".png", ".pdf", ".svg", ".jpg", ".jpeg")

# The library's parameter names -> this tool's flags: its errors ("momentum must be in [0, 1),
# got 1.5") reach the user as "--momentum must be in [0, 1), got 1.5".
FLAGS = {
    "sample_rate": "--sample-rate", "n_fft": "--n-fft", "hop": "--hop", "filters": "--filters",
    "kernel_widths": "--kernel-widths", "content_weight": "--content-weight",
    "iterations": "--iterations", "optimizer": "--optimizer", "init": "--init",
    "griffin_lim_iters": "--griffin-lim-iters", "momentum": "--momentum",
    "phase_init": "--phase-init", "seed": "--seed", "precision": "--precision",
    "seconds": "--seconds", "device": "--device", "preset": "--preset",
    "domain": "--domain", "waveform_init": "--waveform-init",
    "refine_iterations": "--refine-iterations", "refine_filters": "--refine-filters",
    "level": "--level",
    "devices": "--device",
    "autocorr_weight": "--autocorr-weight", "autocorr_seconds": "--autocorr-seconds",
}


def _number_list(kind: type, what: str) -> Callable[[str], tuple]:
    """An argparse ``type`` parsing comma-separated numbers of ``kind``."""

    def parse(text: str) -> tuple:
        try:
            values = tuple(kind(v) for v in text.split(",") if v.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected {what} separated by commas, got {text!r}") from None
        if not values:
            raise argparse.ArgumentTypeError(f"expected at least one {what[:-1]}, got {text!r}")
        return values

    return parse


_int_list = _number_list(int, "integers")
_float_list = _number_list(float, "numbers")


def _add_synthesis_options(p: argparse.ArgumentParser, transfer: bool) -> None:
    """The options of ``transfer`` and ``texture``, one group at a time."""
    d = AudioStyleConfig()
    io = _add_io_options(p)
    _add_method_options(p, transfer, d)
    _add_domain_options(p, transfer, d)
    _add_rhythm_options(p, d)
    _add_execution_options(p, io, d)


def _add_io_options(p: argparse.ArgumentParser) -> argparse._ArgumentGroup:
    io = p.add_argument_group("input and output")
    io.add_argument("-o", "--output", required=True, metavar="OUT",
                    help="result audio file (.wav, .flac or .ogg)")
    io.add_argument("--style-weights", type=_float_list, metavar="W,W..",
                    help="blend weight of each style, normalised to sum 1 (default: equal)")
    io.add_argument("--stereo", action="store_true",
                    help="process each channel, all from the same random start, and write "
                         "as many (default: downmix to mono); --metrics then measures each "
                         "channel")
    io.add_argument("--metrics", metavar="F.json",
                    help="write settings, losses, counts, spectral convergence, timings and "
                         "held-out quality measures of the result (its Gram distance to the "
                         "styles and, for a transfer, its feature distance to the content, "
                         "under a random network no setting uses: compare settings with them)")
    io.add_argument("--plot", metavar="F.png",
                    help="write the spectrograms of the inputs and the result, and the loss curve")
    io.add_argument("-q", "--quiet", action="store_true",
                    help="no progress bar or summary (default: off)")
    return io


def _add_method_options(p: argparse.ArgumentParser, transfer: bool,
                        d: AudioStyleConfig) -> None:
    m = p.add_argument_group("method (defaults: the reference's, or the --preset's)")
    m.add_argument("--preset", choices=PRESET_NAMES, default="default",
                   help="default: the reference's settings (optimise the spectrogram, "
                        "Griffin-Lim). fast and best write samples optimised themselves "
                        "(--domain waveform). fast: a transfer from the content's samples, a "
                        "texture from noise with --autocorr-weight 30, 2048 filters, 80 "
                        "iterations, under a minute for 10 s on 2 CPU cores. best: the "
                        "default's 300 iterations and Griffin-Lim, then 150 iterations on the "
                        "samples (--refine-iterations); a transfer's samples on 8192 filters "
                        "(--refine-filters) at --content-weight 0.045, about 2-2.5x the "
                        "default's time; a texture's with --autocorr-weight 30, about 1.2-1.6x; "
                        "the closest to the style on held-out measures (default: %(default)s)")
    if transfer:
        m.add_argument("--content-weight", type=float, metavar="A",
                       help=f"alpha, weight of the content term (default: {d.content_weight}; "
                        f"best: 0.045)")
        m.add_argument("--init", choices=("noise", "content"),
                       help="start of the spectrogram stage: randn*1e-3 or the content's "
                            "spectrogram (default: noise)")
        m.add_argument("--phase-init", choices=("random", "content", "pghi"),
                       help="Griffin-Lim starts from a random phase, the content's, or pghi: "
                            "the phase integrated from the result's magnitude (Prusa et al. "
                            "2017; 0.1-0.3 s per 10 s), the best start when Griffin-Lim gets "
                            "few iterations (under 50); with more, the start hardly matters "
                            "(default: random)")
    else:
        m.add_argument("--phase-init", choices=("random", "pghi"),
                       help="Griffin-Lim starts from a random phase or pghi, the phase "
                            "integrated from the result's magnitude (Prusa et al. 2017), the "
                            "better start when Griffin-Lim gets few iterations (default: "
                            "random)")
    m.add_argument("--iterations", type=int, metavar="N",
                   help=f"optimiser iterations (default: {d.iterations})")
    m.add_argument("--optimizer", choices=("lbfgs", "adam"),
                   help=f"optimiser (default: {d.optimizer})")
    m.add_argument("--filters", type=int, metavar="N",
                   help=f"random filters per kernel width (default: {d.filters})")
    widths = m.add_mutually_exclusive_group()
    widths.add_argument("--kernel-width", type=int, metavar="K",
                        help=f"one convolution of this width in frames (default: "
                             f"{d.kernel_widths[0]})")
    widths.add_argument("--kernel-widths", type=_int_list, metavar="K,K..",
                        help="a bank of convolutions, one per width (e.g. 3,11,31)")
    m.add_argument("--n-fft", type=int, metavar="N", help=f"STFT size (default: {d.n_fft})")
    m.add_argument("--hop", type=int, metavar="N", help=f"STFT hop (default: {d.hop})")
    m.add_argument("--sample-rate", type=int, metavar="SR",
                   help=f"working rate in Hz; the result is resampled back (default: "
                        f"{d.sample_rate})")
    m.add_argument("--griffin-lim-iters", type=int, metavar="N",
                   help=f"Griffin-Lim iterations (default: {d.griffin_lim_iters})")
    m.add_argument("--momentum", type=float, metavar="M",
                   help=f"Fast Griffin-Lim momentum in [0, 1), 0 = plain (default: "
                        f"{d.momentum})")


def _add_domain_options(p: argparse.ArgumentParser, transfer: bool,
                        d: AudioStyleConfig) -> None:
    w = p.add_argument_group(
        "domain (what is optimised and written)",
        "--iterations counts the spectrogram stage's iterations, --refine-iterations the "
        "waveform stage's. spectrogram (the reference's): optimise the spectrogram, write its "
        "Griffin-Lim reconstruction; cheapest. waveform: then optimise the samples themselves "
        "through a differentiable STFT and write exactly them, no phase reconstruction; the "
        "written file's own spectrogram is the one matched; with --waveform-init content or "
        "noise there is no spectrogram stage, and --iterations counts the waveform stage's "
        "unless --refine-iterations is given")
    w.add_argument("--domain", choices=("spectrogram", "waveform"),
                   help=f"what is optimised and written (default: {d.domain}; fast and best: "
                        f"waveform)")
    starts = ("griffin-lim", "content", "noise") if transfer else ("griffin-lim", "noise")
    w.add_argument("--waveform-init", choices=starts,
                   help="start of the waveform stage (--domain waveform only): griffin-lim, "
                        "the reconstruction of a spectrogram stage of --iterations"
                        + (", or the content's samples or noise" if transfer else ", or noise")
                        + " with no spectrogram stage (default: griffin-lim; fast: "
                        + ("content)" if transfer else "noise)"))
    w.add_argument("--refine-iterations", type=int, metavar="N",
                   help="L-BFGS iterations of the waveform stage (--domain waveform only; "
                        "default: as many as --iterations; best: 150)")
    w.add_argument("--refine-filters", type=int, metavar="N",
                   help="random filters per width of the waveform stage's own network "
                        "(--domain waveform only; default: as many as --filters"
                        + ("; best: 8192): more fit a texture closer to the style at the "
                           "same content, at about twice the waveform stage's time"
                           if transfer else ")"))


def _add_rhythm_options(p: argparse.ArgumentParser, d: AudioStyleConfig) -> None:
    r = p.add_argument_group(
        "rhythm (Antognini et al. 2019)",
        "a Gram matrix averages over time, so a texture keeps the style's sounds but smears "
        "its beat; this term also matches each feature's autocorrelation over time lags, so "
        "the result keeps the style's rhythm. Use it for rhythmic textures (drums, loops, "
        "arpeggios); it costs little (an FFT per evaluation) but trades some Gram match for "
        "the rhythm")
    r.add_argument("--autocorr-weight", type=float, metavar="W",
                   help=f"weight of the autocorrelation term; 0 turns it off, as the reference "
                        f"(default: {d.autocorr_weight}; fast and best textures: 30)")
    r.add_argument("--autocorr-seconds", type=float, metavar="S",
                   help=f"longest lag it matches, in seconds: a few beats "
                        f"(default: {d.autocorr_seconds})")


def _add_execution_options(p: argparse.ArgumentParser, io: argparse._ArgumentGroup,
                           d: AudioStyleConfig) -> None:
    x = p.add_argument_group("execution")
    x.add_argument("--seed", type=int, metavar="S",
                   help=f"seeds the filters, the start and the phase (default: {d.seed})")
    x.add_argument("--device", default="auto", metavar="auto|cpu|cuda[:i][,cuda:j...]",
                   help="where to compute (default: %(default)s); several devices, e.g. "
                        "cuda:0,cuda:1, share a long transfer's windows, one process each "
                        "(as `torchrun --nproc-per-node N -m audiostyle ...` does)")
    x.add_argument("--window-seconds", type=float, metavar="S",
                   help="longer audio is optimised and reconstructed in windows of this "
                        "length, crossfaded (memory is set by the window, not the file; "
                        f"default: {d.window_frames * d.hop / d.sample_rate:.1f})")
    io.add_argument("--level", choices=("optimised", "content"),
                    help="loudness of the result: the one the optimisation chose, or the "
                         "content's RMS (textures: the styles'); never clipped (default: "
                         "optimised)")
    x.add_argument("--precision", choices=("fp32", "bf16"),
                   help="arithmetic of the optimised convolution: fp32 (the reference's) or "
                        "bf16 around a float32 anchor, about 1.3x faster per evaluation on a "
                        "CPU with AVX512-BF16 (default: fp32)")


def build_parser() -> argparse.ArgumentParser:
    """The ``audiostyle`` argument parser."""
    parser = ArgumentParser(prog="audiostyle", description="Audio style transfer and texture "
                            "synthesis with random convolutional features (Ulyanov & Lebedev "
                            "2016).")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    t = sub.add_parser("transfer", help="content's structure with the styles' texture",
                       description="Style transfer: CONTENT's structure with the STYLEs' texture.")
    t.add_argument("content", metavar="CONTENT", help="content recording")
    t.add_argument("styles", nargs="+", metavar="STYLE", help="style recording(s), used whole")
    _add_synthesis_options(t, transfer=True)

    x = sub.add_parser("texture", help="new audio with the styles' texture",
                       description="Texture synthesis: new audio with the STYLEs' statistics.")
    x.add_argument("styles", nargs="+", metavar="STYLE", help="style recording(s), used whole")
    x.add_argument("--seconds", type=float, required=True, metavar="T",
                   help="length of the result in seconds")
    _add_synthesis_options(x, transfer=False)

    p = sub.add_parser("plot", help="spectrograms of audio files side by side",
                       description="Draw the spectrograms (dB, log frequency) of audio files.")
    p.add_argument("inputs", nargs="+", metavar="IN", help="audio files")
    p.add_argument("-o", "--output", required=True, metavar="OUT.png", help="image file")
    p.add_argument("--n-fft", type=int, default=2048, metavar="N",
                   help="STFT size (default: %(default)s)")
    p.add_argument("--hop", type=int, default=512, metavar="N",
                   help="STFT hop (default: %(default)s)")
    return parser


def _config(args: argparse.Namespace) -> AudioStyleConfig:
    widths = args.kernel_widths or ((args.kernel_width,) if args.kernel_width else None)
    return preset_config(
        args.preset, args.command, content_weight=getattr(args, "content_weight", None),
        init=getattr(args, "init", None), phase_init=getattr(args, "phase_init", None),
        iterations=args.iterations,
        optimizer=args.optimizer, filters=args.filters, kernel_widths=widths,
        n_fft=args.n_fft, hop=args.hop, sample_rate=args.sample_rate,
        griffin_lim_iters=args.griffin_lim_iters, momentum=args.momentum, seed=args.seed,
        precision=args.precision, level=args.level, domain=args.domain,
        waveform_init=args.waveform_init,
        refine_iterations=args.refine_iterations, refine_filters=args.refine_filters,
        autocorr_weight=args.autocorr_weight,
        autocorr_seconds=args.autocorr_seconds)


def _with_window(config: AudioStyleConfig, seconds: Optional[float]) -> AudioStyleConfig:
    """``config`` with ``--window-seconds`` turned into frames of its rate and hop."""
    if seconds is None:
        return config
    least = 4 * config.overlap * config.hop / config.sample_rate
    if not (least <= seconds < float("inf")):
        raise UserError(f"--window-seconds must be at least {least:.2f} (4 x the overlap of "
                        f"consecutive windows at these settings), got {seconds}")
    return config.replace(window_frames=round(seconds * config.sample_rate / config.hop))


def _check_outputs(args: argparse.Namespace, inputs: Sequence[str]) -> None:
    """Check every output path before any work: folder exists, not an input, right suffix."""
    check_output_path(args.output, inputs)
    check_audio_output(args.output)
    taken = [args.output]
    for option, value in (("--metrics", getattr(args, "metrics", None)),
                          ("--plot", getattr(args, "plot", None))):
        if value is None:
            continue
        check_output_path(value, list(inputs), what=f"{option} output")
        if any(Path(value).resolve() == Path(t).resolve() for t in taken):
            raise UserError(f"{option} output {value} is also another output; choose another name")
        if option == "--plot" and Path(value).suffix.lower() not in PLOT_SUFFIXES:
            raise UserError(f"{value}: --plot needs one of {', '.join(PLOT_SUFFIXES)}")
        taken.append(value)


def _validate(args: argparse.Namespace, transfer: bool) -> AudioStyleConfig:
    """The run's config, every input and output checked before any work (UserError)."""
    inputs = ([args.content] if transfer else []) + list(args.styles)
    config = _with_window(_config(args), args.window_seconds)
    unused = [] if config.spectrogram_stage else [flag for flag, value in (
        ("--init", getattr(args, "init", None)), ("--phase-init", args.phase_init),
        ("--griffin-lim-iters", args.griffin_lim_iters), ("--momentum", args.momentum))
        if value is not None]
    if unused:  # a valid run, but the user may think these changed it
        start = "the content's samples" if config.waveform_init == "content" else "noise"
        print(f"audiostyle: note: {', '.join(unused)} change nothing here: this run has no "
              f"spectrogram stage or Griffin-Lim (it optimises the samples from {start}; "
              f"--waveform-init griffin-lim adds them)", file=sys.stderr)
    if args.style_weights is not None and len(args.style_weights) != len(args.styles):
        raise UserError(f"--style-weights gives {len(args.style_weights)} weights for "
                        f"{len(args.styles)} style files; give one per style")
    if not transfer and not (0 < args.seconds < float("inf")):
        raise UserError(f"--seconds must be positive, got {args.seconds}")
    if not transfer and args.seconds * config.sample_rate < config.min_samples:
        raise UserError(f"--seconds {args.seconds} is shorter than the network's receptive "
                        f"field of {config.min_samples / config.sample_rate:.3f} s")
    _check_outputs(args, inputs)
    return config


def _quality(wave: Tensor, rate: int, content: Optional[AudioClip], styles: Sequence[AudioClip],
             style_weights: Optional[Sequence[float]]) -> dict[str, object]:
    """The held-out measures of :func:`audiostyle.quality.quality_measures` for the metrics
    file (per channel and their mean for a ``--stereo`` result)."""
    from .quality import quality_measures

    return quality_measures(wave, rate, [s.samples for s in styles],
                            [s.sample_rate for s in styles], style_weights,
                            None if content is None else content.samples,
                            None if content is None else content.sample_rate)


def _synthesis(args: argparse.Namespace, transfer: bool) -> int:
    """``transfer`` or ``texture``: check, load, run, write, report."""
    from .transfer import style_transfer, texture_synthesis

    config = _validate(args, transfer)
    workers, args.device = init_from_env(args.device)  # under torchrun: join its group
    select_device(args.device)

    # In a group, Ctrl-C reaches every rank wherever it is: held back until the optimisation
    # can stop on it, so that a rank still loading or in its style Gram joins the others
    # instead of ending alone (shared.deferred_interrupts)
    with deferred_interrupts() if workers.world > 1 else contextlib.nullcontext():
        start = t0 = time.perf_counter()
        # checked whole, read on demand: a style is read a block at a time, the content
        # straight to the working rate (downmixed while read unless --stereo)
        content: Optional[Source] = open_audio(
            args.content, _bar(args, "checking", args.content)) if transfer else None
        styles = [open_audio(p, _bar(args, "checking", p)) for p in args.styles]
        out_clip = content if content is not None else styles[0]  # the result's rate
        widest = max(c.channels for c in ([content] if content is not None else styles))
        check_audio_output(args.output, out_clip.sample_rate, widest if args.stereo else 1)
        load_seconds = time.perf_counter() - t0
        if content is not None:
            result = style_transfer(content, styles, config, style_weights=args.style_weights,
                                    stereo=args.stereo, device=args.device, quiet=args.quiet)
        else:
            result = texture_synthesis(styles, args.seconds, config,
                                       style_weights=args.style_weights, stereo=args.stereo,
                                       device=args.device, quiet=args.quiet)
    if not result.leader:  # another rank of a group: rank 0 writes
        return 130 if result.interrupted else 0
    # Ctrl-C during the optimisation: the API returns the best result so far, reconstructed;
    # it is written like a finished one (a second Ctrl-C from here on aborts, and the atomic
    # writes leave no partial file).
    t0 = time.perf_counter()
    save_audio(args.output, result.waveform, result.sample_rate,
               progress=_bar(args, "writing", args.output))
    if args.plot or args.metrics:  # these take the inputs whole
        content, styles = _in_memory(content, not args.stereo), [
            _in_memory(s, not args.stereo) for s in styles]
    if args.plot:
        _write_plot(args, config, result, content, styles)
    seconds = {"load": load_seconds, **result.seconds, "write": time.perf_counter() - t0}
    quality = _write_metrics(args, result, seconds, content, styles) if args.metrics else None
    if not args.quiet or result.interrupted:
        _summary(args, result, quality, time.perf_counter() - start)
    return 130 if result.interrupted else 0


def _bar(args: argparse.Namespace, stage: str, path: str) -> Optional[str]:
    """The label of a stage's progress bar over a file, None with ``--quiet``."""
    return None if args.quiet else f"{stage} {Path(path).name}"


def _in_memory(source: Optional[Source], mono: bool) -> Optional[AudioClip]:
    """A file read on demand loaded whole (downmixed with ``mono``), for the plots and the
    held-out measures; a clip as it is."""
    return source.load(mono) if isinstance(source, AudioFile) else source


def _write_plot(args: argparse.Namespace, config: AudioStyleConfig, result: "AudioResult",
                content: Optional[AudioClip], styles: Sequence[AudioClip]) -> None:
    """``--plot``: the inputs' and the result's spectrograms and the loss curve."""
    from .plots import plot_spectrograms

    panels = ([(f"content: {Path(content.path).name}", content.samples,
                content.sample_rate)] if content is not None else [])
    panels += [(f"style: {Path(s.path).name}", s.samples, s.sample_rate) for s in styles]
    panels.append((f"result: {Path(args.output).name}", result.waveform, result.sample_rate))
    plot_spectrograms(panels, args.plot, loss_history=result.history,
                      n_fft=config.n_fft, hop=config.hop)


def _write_metrics(args: argparse.Namespace, result: "AudioResult", seconds: dict[str, float],
                   content: Optional[AudioClip], styles: Sequence[AudioClip]) -> dict:
    """``--metrics``: the result's summary, timings, inputs and held-out quality as JSON
    (written atomically). Returns the quality measures."""
    metrics = result.metrics()
    metrics["seconds"] = seconds
    metrics["inputs"] = {"content": getattr(args, "content", None), "styles": list(args.styles)}
    metrics["output"] = args.output
    metrics["preset"] = args.preset
    metrics["quality"] = quality = _quality(result.waveform, result.sample_rate, content,
                                            styles, args.style_weights)
    with atomic_write(args.metrics, "w") as fh:
        json.dump(metrics, fh, indent=2)
        fh.write("\n")
    return quality


def _summary(args: argparse.Namespace, result: "AudioResult", quality: Optional[dict],
             seconds: float) -> None:
    """The one line on what was written (stderr)."""
    note = "interrupted; wrote the best result so far to" if result.interrupted else "wrote"
    channels, samples = result.waveform.shape
    held = (f", held-out style distance {quality['heldout_style_distance']:.4g}"
            if quality and quality["heldout_style_distance"] is not None else "")
    print(f"audiostyle: {note} {args.output} ({samples / result.sample_rate:.1f} s, "
          f"{result.sample_rate} Hz, {channels} ch, loss {result.loss:.4g}{held}, "
          f"{result.iterations} iterations, {seconds:.1f} s)", file=sys.stderr)


def _plot(args: argparse.Namespace) -> int:
    from .plots import plot_spectrograms

    check_output_path(args.output, args.inputs)
    if Path(args.output).suffix.lower() not in PLOT_SUFFIXES:
        raise UserError(f"{args.output}: the plot needs one of {', '.join(PLOT_SUFFIXES)}")
    if not (16 <= args.n_fft <= 65536) or not (1 <= args.hop <= args.n_fft):
        raise UserError(f"bad option value: need 16 <= --n-fft <= 65536 and 1 <= --hop <= "
                        f"--n-fft, got {args.n_fft} and {args.hop}")
    clips = [load_audio(p) for p in args.inputs]
    plot_spectrograms([(Path(c.path).name, c.samples, c.sample_rate) for c in clips],
                      args.output, n_fft=args.n_fft, hop=args.hop)
    return 0


@sys_exit("audiostyle", FLAGS)
def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the ``audiostyle`` command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    if args.command == "plot":
        return _plot(args)
    devices = parse_devices(args.device)
    if len(devices) > 1:  # one process per device, as torchrun would start them
        _validate(args, transfer=args.command == "transfer")
        return spawn(functools.partial(_rank_main, list(sys.argv[1:] if argv is None else argv)),
                     devices)
    try:
        return _synthesis(args, transfer=args.command == "transfer")
    finally:
        leave()  # under torchrun or spawn: every rank leaves the group before it exits


def _rank_main(argv: Sequence[str], device: str) -> int:
    """One spawned process of ``--device a,b,...``: this command on ``device``."""
    return main([*argv, "--device", device])


__all__ = ["build_parser", "main"]
