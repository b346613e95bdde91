"""The texture presets' starts side by side: white noise (the reference's) against noise shaped
like the style's long-term spectrum, in ``fast`` and ``best``, beside ``default``, on the
``--wide`` styles of ``bench_audio_quality.py``; judged on the written files at one loudness by
the held-out network, signal statistics, the onset period and (with ``--judge-python``) the
musicnn tagger.

    python benchmarks/bench_audio_quality.py --wide --media /tmp/q/media   # makes the styles
    python benchmarks/bench_texture_starts.py --media /tmp/q/media --judge-python /tmp/tfvenv/bin/python

``default`` and ``best`` run at the quality benchmark's reduced budget (1024 filters, 50
iterations, 100 Griffin-Lim iterations) unless ``--full``; ``fast`` at its own settings.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from audiostyle import load_audio, preset_config, save_audio, texture_synthesis  # noqa: E402
from audiostyle.bands import out_of_band_share, spectral_stats  # noqa: E402
from audiostyle.quality import heldout_style_distance, onset_period  # noqa: E402
from bench_audio_quality import frechet  # noqa: E402
from results import recorded  # noqa: E402

STYLES = {
    "drums": "drums_10s_22050_1ch_PCM_16.wav", "strings": "strings_12s_22050_1ch_PCM_16.wav",
    "ring": "ringtone_1.5s_22050_1ch_PCM_16.wav", "rain": "rain_10s_22050_1ch_PCM_16.wav",
    "sines": "sines_1.5s_22050_1ch_PCM_16.wav", "whistle": "whistle_4s_22050_1ch_PCM_16.wav",
    "speech": "speech_6s_22050_1ch_PCM_16.wav", "applause": "applause_10s_22050_1ch_PCM_16.wav",
    "organ": "organ_8s_22050_1ch_PCM_16.wav", "mix44k": "mix_10s_44100_1ch_PCM_16.wav",
    "wind40s": "wind_40s_22050_1ch_PCM_16.wav", "ring48k-stereo": "ring_1.5s_48000_2ch_PCM_16.wav",
}
REDUCED = dict(filters=1024, iterations=50, griffin_lim_iters=100)
# name: (preset, overrides, reduced budget applies)
VARIANTS = {
    "default": ("default", {}, True),
    "fast-white": ("fast", dict(waveform_init="noise"), False),
    "fast-start": ("fast", dict(iterations=0), False),  # the shaped start alone
    "fast": ("fast", {}, False),
    "best-white": ("best", dict(init="noise"), True),
    "best": ("best", {}, True),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--media", type=Path, required=True, help="the --wide media folder")
    parser.add_argument("--styles", default=",".join(STYLES), help="comma-separated names")
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated names")
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--full", action="store_true", help="default and best at full budget")
    parser.add_argument("--judge-python", help="a Python with musicnn (judge_musicnn.py)")
    parser.add_argument("--keep", type=Path, help="keep the textures here")
    args = parser.parse_args()
    out = args.keep or Path(tempfile.mkdtemp())
    out.mkdir(parents=True, exist_ok=True)
    names, variants = args.styles.split(","), args.variants.split(",")
    rows = []
    for name in names:
        style = load_audio(args.media / STYLES[name])
        for v in variants:
            preset, over, reduce = VARIANTS[v]
            cfg = preset_config(preset, "texture", **{**(REDUCED if reduce and not args.full
                                                          else {}), **over})
            t0 = time.perf_counter()
            res = texture_synthesis([style], args.seconds, cfg, device="cpu",
                                    stereo=style.channels > 1)
            seconds = time.perf_counter() - t0
            path = out / f"{name}-{v}.wav"
            save_audio(path, res.waveform, res.sample_rate)
            rows.append(dict(style=name, variant=v, path=str(path), seconds=seconds,
                             wave=res.waveform, rate=res.sample_rate))
            print(f"{name} {v}: {seconds:.1f} s", file=sys.stderr, flush=True)
    emb = {}
    if args.judge_python:
        files = [str(args.media / STYLES[n]) for n in names] + [r["path"] for r in rows]
        judged = out / "judge.json"
        subprocess.run([args.judge_python, str(Path(__file__).with_name("judge_musicnn.py")),
                        str(judged), *files], check=True, capture_output=True)
        emb = json.loads(judged.read_text())
    print(f"textures of {args.seconds:g} s, seed 0, CPU, {torch.get_num_threads()} threads; "
          f"default and best {'full' if args.full else 'reduced: ' + str(REDUCED)}; every "
          "file measured at one RMS\n")
    print("| style | variant | held-out | gap | outside | centroid Hz (style) | "
          "onset period s (style) | tagger | run s |")
    print("|---|---|---|---|---|---|---|---|---|")
    noise = torch.Generator().manual_seed(0)
    for name in names:
        style = load_audio(args.media / STYLES[name])
        s, rs = style.samples, style.sample_rate
        white = torch.randn(1, int(args.seconds * rs), generator=noise) * s.std()
        d_noise = heldout_style_distance(white, [s], rs, [rs])
        centroid, period = spectral_stats(s, rs)["centroid_hz"], onset_period(s, rs)
        for r in (r for r in rows if r["style"] == name):
            w, rate = r["wave"], r["rate"]
            d = heldout_style_distance(w, [s], rate, [rs])
            tagger = (f"{frechet(emb[r['path']], emb[str(args.media / STYLES[name])]):.0f}"
                      if emb else "-")
            print(f"| {name} | {r['variant']} | {d:.3f} | {1 - d / d_noise:.3f} | "
                  f"{out_of_band_share(w, rate, [s], [rs]):.3f} | "
                  f"{spectral_stats(w, rate)['centroid_hz']:.0f} ({centroid:.0f}) | "
                  f"{onset_period(w, rate):.3f} ({period:.3f}) | {tagger} | "
                  f"{r['seconds']:.1f} |")


if __name__ == "__main__":
    with recorded("bench_texture_starts"):
        main()
