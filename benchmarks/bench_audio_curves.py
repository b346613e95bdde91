"""Held-out quality along one run's iterations (issue 9): how the presets' budgets were chosen.

One optimisation per case and setting, through the API, with :func:`shared.optimize`'s
callback saving the variable every ``--every`` iterations; afterwards each saved waveform
(the waveform stage's samples, which are what the waveform domain writes) is measured as
``bench_audio_quality.py`` measures a written file: the held-out style distance (seed 1234,
widths 5 and 25), the share of the gap closed (transfers: of the content's own distance;
textures: of white noise's), and the content distance (transfers) or the onset period
(textures). The last row, ``written``, measures the result as the tool writes it (resampled,
at its level, peak-limited), so a gap between it and the last checkpoint shows what writing
costs. Only waveform stages are followed: a spectrogram checkpoint is not audio until
Griffin-Lim has run.

    python benchmarks/bench_audio_curves.py --cases transfer-speech-piano --preset best
    python benchmarks/bench_audio_curves.py --cases texture-drums --preset best --every 50 \\
        --set iterations=300 --set filters=2048

The samples are followed with the API's ``callback`` (every stage's iterations and losses, and a
copy of each point). Times are from the run's start (measuring the checkpoints comes after).
"""

from __future__ import annotations

import argparse
import ast
import tempfile
import time
from pathlib import Path

import torch

from bench_audio_quality import _path, cases, noise_distance

from audiostyle import (StageStep, load_audio, preset_config, style_transfer,
                        texture_synthesis)
from audiostyle.quality import content_distance, heldout_style_distance, onset_period


def _overrides(items: list[str]) -> dict[str, object]:
    out: dict[str, object] = {}
    for item in items:
        key, _, value = item.partition("=")
        try:
            out[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            out[key] = value  # a bare word: a string setting such as domain=waveform
    return out


def curve(case, media: Path, preset: str, overrides: dict[str, object], every: int,
          seconds: float) -> list[tuple]:
    """Rows ``(iteration, seconds, loss, held-out, gap closed, content dist. or period)``
    of one run, then the written result's row (iteration ``"written"``)."""
    style = load_audio(_path(case.style, media))
    content = None if case.content is None else load_audio(_path(case.content, media))
    mode = "texture" if content is None else "transfer"
    config = preset_config(preset, mode, **overrides)
    saved: list[tuple[int, float, float, torch.Tensor]] = []
    start = time.perf_counter()

    def keep(step: StageStep) -> None:  # the waveform stage's samples, every `every` iterations
        if step.stage == "waveform" and step.iteration % every == 0:
            saved.append((step.iteration, time.perf_counter() - start, step.loss, step.variable))

    if content is None:
        result = texture_synthesis([style], seconds, config, device="cpu", callback=keep)
    else:
        result = style_transfer(content, [style], config, device="cpu", callback=keep)
    gap = (noise_distance(_path(case.style, media)) if content is None else
           heldout_style_distance(content.samples, [style.samples], content.sample_rate,
                                  [style.sample_rate]))

    def measure(wave: torch.Tensor, rate: int) -> tuple[float, float, float]:
        held = heldout_style_distance(wave, [style.samples], rate, [style.sample_rate])
        other = (onset_period(wave, rate) if content is None else
                 content_distance(wave, content.samples, rate, content.sample_rate))
        return held, 1.0 - held / gap, other

    rows = [(i, s, loss, *measure(x, config.front.sample_rate)) for i, s, loss, x in saved]
    optimised = sum(result.seconds.get(k, 0.0) for k in ("optimisation", "waveform"))
    rows.append(("written", optimised, result.loss,
                 *measure(result.waveform, result.sample_rate)))
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cases", required=True, help="comma-separated case names of "
                   "bench_audio_quality.py (" + ", ".join(c.name for c in cases(10.0)) + ")")
    p.add_argument("--preset", default="best", help="the preset to start from (default: "
                   "%(default)s; its texture form for texture cases)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="a config field to override, e.g. iterations=600, "
                        "kernel_widths=(3,11,31); repeatable")
    p.add_argument("--every", type=int, default=25, help="iterations between checkpoints")
    p.add_argument("--seconds", type=float, default=10.0, help="content and texture length")
    p.add_argument("--media", default=str(Path(tempfile.gettempdir()) / "styletoolkit_media"),
                   help="cache folder for the generated recordings")
    args = p.parse_args()
    overrides = _overrides(args.set)
    chosen = set(args.cases.split(","))
    label = args.preset + "".join(f", {k}={v}" for k, v in overrides.items())
    print(f"\nheld-out measures along the run; preset {label}; {args.seconds:g} s; CPU, "
          f"{torch.get_num_threads()} threads\n")
    print("| case | iteration | s | loss | held-out style dist. | gap closed | "
          "content dist. / onset period s |")
    print("|---|---|---|---|---|---|---|")
    for case in cases(args.seconds):
        if case.name not in chosen:
            continue
        for i, s, loss, held, closed, other in curve(case, Path(args.media), args.preset,
                                                     overrides, args.every, args.seconds):
            print(f"| {case.name} | {i} | {s:.0f} | {loss:.4g} | {held:.4f} | {closed:.3f} | "
                  f"{other:.3f} |", flush=True)


if __name__ == "__main__":
    from results import recorded

    with recorded("bench_audio_curves"):
        main()
