"""``audiostyle``: audio style transfer, audio texture synthesis and spectrogram plots.

    audiostyle transfer CONTENT STYLE [STYLE ...] -o OUT [options]
    audiostyle texture STYLE [STYLE ...] -o OUT --seconds T [options]
    audiostyle plot IN [IN ...] -o OUT.png
    audiostyle train | stylize | sample | export ...   (feed-forward: audiostyle.feedforward.cli)

Every input and output is checked before the optimisation starts; a bad one is reported as one
line naming the file and the problem, with exit status 2 and no output written. The method's
options are the config's settings (:func:`audiostyle.config.options`: one flag per setting,
``--<name>`` with dashes, its help and default read off its declaration), grouped by the
config's parts; the library's errors name those settings, and :data:`FLAGS` turns the names
into this tool's flags.
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
from shared.cli import QUIET_HELP, ArgumentParser, sys_exit
from shared.distributed import leave_group

from .audio import AudioClip, check_audio_output, load_audio, save_audio
from .config import AudioStyleConfig, Option, grouped_options, options
from .feedforward.cli import FLAGS as FEEDFORWARD_FLAGS
from .feedforward.cli import HANDLERS, add_subcommands
from .parallel import join, parse_devices, spawn
from .presets import PRESET_NAMES, PRESETS, preset_config
from .stream import AudioFile, Source, open_audio

if TYPE_CHECKING:
    from torch import Tensor

    from .pipeline import AudioResult

PLOT_SUFFIXES = (".png", ".pdf", ".svg", ".jpg", ".jpeg")


def flag(name: str) -> str:
    """The command line's flag of a setting: ``waveform_iterations`` -> ``--waveform-iterations``."""
    return "--" + name.replace("_", "-")


# The library's parameter names -> this tool's flags: its errors ("momentum must be in [0, 1),
# got 1.5") reach the user as "--momentum must be in [0, 1), got 1.5".
FLAGS = {**{o.name: flag(o.name) for o in options() if o.cli},
         "seconds": "--seconds", "device": "--device", "devices": "--device",
         "preset": "--preset", "domain": "--domain"}
FLAGS = {**FEEDFORWARD_FLAGS, **FLAGS}


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


_LISTS = {int: _number_list(int, "integers"), float: _number_list(float, "numbers")}


def _presets_note(name: str, mode: str) -> str:
    """``"; fast: 2048; best: waveform"``: the value each preset gives a setting."""
    return "".join(f"; {p}: {PRESETS[mode][p][name]}" for p in PRESET_NAMES
                   if p != "default" and name in PRESETS[mode][p])


def _help(o: Option, mode: str) -> str:
    """A setting's help line: its declaration's, with its default and the presets' values."""
    default = o.default_text or (",".join(map(str, o.default)) if isinstance(o.default, tuple)
                                 else str(o.default))
    text = f"{o.help} (default: {default}{_presets_note(o.name, mode)})"
    return text.format_map({s.name: flag(s.name) if s.cli else s.name for s in options()})


def add_setting(group: argparse._ArgumentGroup, o: Option, mode: str) -> None:
    """The flag of one setting (and of its older names)."""
    kwargs: dict = dict(dest=o.name, help=_help(o, mode), metavar=o.metavar)
    if isinstance(o.default, tuple):
        kwargs["type"] = _LISTS[o.kind]
    elif o.choices:
        kwargs["choices"] = o.choices_for(mode)
        kwargs.pop("metavar")
    else:
        kwargs["type"] = o.kind
    group.add_argument(flag(o.name), **kwargs)
    for alias in o.aliases:  # older names, still accepted, not shown
        group.add_argument(flag(alias), **{**kwargs, "help": argparse.SUPPRESS})


def _add_domain(group: argparse._ArgumentGroup, mode: str) -> None:
    group.add_argument("--domain", choices=("spectrogram", "waveform"),
                       help="what is optimised and written: the spectrogram, written as its "
                            "Griffin-Lim reconstruction (the reference's), or then the samples "
                            "themselves, written as optimised (default: spectrogram"
                            + _presets_note("domain", mode) + ")")


def _add_window_seconds(group: argparse._ArgumentGroup, mode: str) -> None:
    d = AudioStyleConfig()
    group.add_argument("--window-seconds", type=float, metavar="S",
                       help="longer audio is optimised and reconstructed in windows of this "
                            "length, crossfaded (memory is set by the window, not the file; "
                            f"default: {d.windows.window_frames * d.front.hop / d.front.sample_rate:.1f})")


# Flags of the command line's own beside a part's settings: the waveform stage is there or not
# (--domain), and a window's length is given in seconds (window_frames at the run's rate)
_PART_EXTRAS = {"waveform stage": _add_domain, "windows": _add_window_seconds}


def _add_settings(p: argparse.ArgumentParser, mode: str) -> None:
    """One argument group per part of the config, one flag per setting the command has."""
    for title, description, settings in grouped_options():
        group = p.add_argument_group(title, description)
        if title in _PART_EXTRAS:
            _PART_EXTRAS[title](group, mode)
        for o in settings:
            if o.cli and mode in o.modes:
                add_setting(group, o, mode)


def _add_synthesis_options(p: argparse.ArgumentParser, mode: str) -> None:
    """The options of ``transfer`` and ``texture``: input and output, the preset, the
    config's settings, execution."""
    io = p.add_argument_group("input and output")
    io.add_argument("-o", "--output", required=True, metavar="OUT",
                    help="result audio file (.wav, .flac or .ogg)")
    io.add_argument("--style-weights", type=_LISTS[float], metavar="W,W..",
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
    io.add_argument("-q", "--quiet", action="store_true", help=QUIET_HELP)
    for o in options():
        if not o.part and o.name == "level":
            add_setting(io, o, mode)
    p.add_argument_group("preset").add_argument(
        "--preset", choices=PRESET_NAMES, default="default",
        help="default: the reference's settings (optimise the spectrogram, Griffin-Lim). "
             "fast: fewer filters and iterations; a transfer's short spectrogram stage "
             "starts from the content's spectrogram when the content has the style's bands, "
             "else from noise (--metrics records 'spectrogram_start'), then the samples are "
             "optimised; a texture starts from noise shaped like a steady noise-like style, "
             "else after a short spectrogram stage (--metrics records 'waveform_start'). best: "
             "the reference's stages, then 150 iterations on the samples, the slowest of the "
             "three. A transfer to a narrow-band tonal style (nearly all of its energy in "
             "three third-octave bands: a ring, a whistle) takes a route of its own in fast "
             "and best: 80 iterations of the spectrogram stage from noise, then 80 (fast) or "
             "300 (best) on the samples (--metrics records 'route'); best's texture of such "
             "a style, if its level is steady, drops the rhythm term. Each setting's help "
             "gives the presets' values (their main routes); "
             "options given change the preset (default: %(default)s)")
    _add_settings(p, mode)
    _add_execution_options(p)


def _add_execution_options(p: argparse.ArgumentParser) -> None:
    x = p.add_argument_group("execution")
    for o in options():
        if not o.part and o.name == "seed":
            add_setting(x, o, "transfer")
    x.add_argument("--device", default="auto", metavar="auto|cpu|cuda[:i][,cuda:j...]",
                   help="where to compute (default: %(default)s); several devices, e.g. "
                        "cuda:0,cuda:1, share a long transfer's windows, one process each "
                        "(as `torchrun --nproc-per-node N -m audiostyle ...` does)")


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
    _add_synthesis_options(t, "transfer")

    x = sub.add_parser("texture", help="new audio with the styles' texture",
                       description="Texture synthesis: new audio with the STYLEs' statistics.")
    x.add_argument("styles", nargs="+", metavar="STYLE", help="style recording(s), used whole")
    x.add_argument("--seconds", type=float, required=True, metavar="T",
                   help="length of the result in seconds")
    _add_synthesis_options(x, "texture")

    p = sub.add_parser("plot", help="spectrograms of audio files side by side",
                       description="Draw the spectrograms (dB, log frequency) of audio files.")
    p.add_argument("inputs", nargs="+", metavar="IN", help="audio files")
    p.add_argument("-o", "--output", required=True, metavar="OUT.png", help="image file")
    p.add_argument("--n-fft", type=int, default=2048, metavar="N",
                   help="STFT size (default: %(default)s)")
    p.add_argument("--hop", type=int, default=512, metavar="N",
                   help="STFT hop (default: %(default)s)")
    add_subcommands(sub)
    return parser


def _config(args: argparse.Namespace) -> AudioStyleConfig:
    """The preset's config with every setting the user gave."""
    given = {o.name: getattr(args, o.name, None) for o in options() if o.cli}
    return preset_config(args.preset, args.command, domain=args.domain, **given)


def _with_window(config: AudioStyleConfig, seconds: Optional[float]) -> AudioStyleConfig:
    """``config`` with ``--window-seconds`` turned into frames of its rate and hop."""
    if seconds is None:
        return config
    front = config.front
    least = 4 * config.overlap * front.hop / front.sample_rate
    if not (least <= seconds < float("inf")):
        raise UserError(f"--window-seconds must be at least {least:.2f} (4 x the overlap of "
                        f"consecutive windows at these settings), got {seconds}")
    return config.replace(window_frames=round(seconds * front.sample_rate / front.hop))


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
    unused = [] if config.spectrogram_stage else [  # the spectrogram stage's start, Griffin-Lim
        flag(o.name) for o in options() if (o.part == "reconstruction" or o.name == "init")
        and getattr(args, o.name, None) is not None]
    if unused:  # a valid run, but the user may think these changed it
        start = {"content": "the content's samples", "shaped": "noise shaped like the styles"
                 }.get(config.waveform.init, "noise")
        print(f"audiostyle: note: {', '.join(unused)} change nothing here: this run has no "
              f"spectrogram stage or Griffin-Lim (it optimises the samples from {start}; "
              f"--waveform-init griffin-lim adds them)", file=sys.stderr)
    if args.style_weights is not None and len(args.style_weights) != len(args.styles):
        raise UserError(f"--style-weights gives {len(args.style_weights)} weights for "
                        f"{len(args.styles)} style files; give one per style")
    if not transfer and not (0 < args.seconds < float("inf")):
        raise UserError(f"--seconds must be positive, got {args.seconds}")
    rate = config.front.sample_rate
    if not transfer and args.seconds * rate < config.min_samples:
        raise UserError(f"--seconds {args.seconds} is shorter than the network's receptive "
                        f"field of {config.min_samples / rate:.3f} s")
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
    from .api import style_transfer, texture_synthesis

    config = _validate(args, transfer)
    workers, args.device = join(args.device)  # under torchrun: join its group
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
                                    stereo=args.stereo, device=args.device, quiet=args.quiet,
                                    workers=workers)
        else:
            result = texture_synthesis(styles, args.seconds, config,
                                       style_weights=args.style_weights, stereo=args.stereo,
                                       device=args.device, quiet=args.quiet, workers=workers)
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
                      n_fft=config.front.n_fft, hop=config.front.hop)


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


@sys_exit("audiostyle", FLAGS, memory_advice="lower --filters, --waveform-filters or "
          "--window-seconds, or use a shorter input (a texture: --seconds)")
def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the ``audiostyle`` command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    if args.command == "plot":
        return _plot(args)
    if args.command in HANDLERS:
        return HANDLERS[args.command](args)
    devices = parse_devices(args.device)
    if len(devices) > 1:  # one process per device, as torchrun would start them
        _validate(args, transfer=args.command == "transfer")
        return spawn(functools.partial(_rank_main, list(sys.argv[1:] if argv is None else argv)),
                     devices)
    try:
        return _synthesis(args, transfer=args.command == "transfer")
    finally:
        leave_group()  # under torchrun or spawn: every rank leaves the group before it exits


def _rank_main(argv: Sequence[str], device: str) -> int:
    """One spawned process of ``--device a,b,...``: this command on ``device``."""
    return main([*argv, "--device", device])


__all__ = ["build_parser", "main"]
