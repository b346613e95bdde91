"""Parity benchmark: the project against the reference on a matrix of generated cases.

Each case is run, at the same settings, by

* **ours**: ``audiostyle`` (its command line, in this process), timed from loading the files
  to the written WAV (with ``--bf16`` also **ours-bf16**, ``--precision bf16``);
* **tf-ref**: the authors' notebook ported to TF 2 (``reference_tf.py``), run by a Python that
  has ``tensorflow-cpu`` (``--tf-python``; skipped when none is given), timed likewise;
* **scipy-torch**: the same method with PyTorch evaluations driven by SciPy's L-BFGS-B
  (``bench_audio.scipy_reference``), a torch-only baseline (optimisation only).

All three use the same random network, start point and spectrogram targets, so losses compare.
The table gives final loss, evaluations (and per iteration), wall time, a held-out Gram
distance of the written file (``ours``, ``tf-ref``) to the style under a random network of
another seed and other widths than any the tool uses, and the ratios to the TF reference.

    python benchmarks/bench_audio_parity.py                   # reduced: 1024 filters, 50 its
    python benchmarks/bench_audio_parity.py --full            # the reference's settings
    python benchmarks/bench_audio_parity.py --tf-python /path/to/tf-venv/bin/python
    python benchmarks/bench_audio_parity.py --cases texture-strings,transfer-short-style
    python benchmarks/bench_audio_parity.py --bf16           # also ours with --precision bf16

The cases need espeak-ng, sox, fluidsynth and fluid-soundfont-gm (see ``media.py``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_audio import scipy_reference  # noqa: E402
from media import Clip, clip_path  # noqa: E402

from audiostyle import AudioStyleConfig, RandomConvBank, load_audio  # noqa: E402
from audiostyle.dsp import downmix  # noqa: E402
from audiostyle.cli import main as audiostyle_main  # noqa: E402
from audiostyle.quality import heldout_style_distance  # noqa: E402
from audiostyle.spectral import log_spectrogram, num_frames  # noqa: E402
from audiostyle.api import working_signal  # noqa: E402

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Case:
    """One row group of the table."""

    name: str
    style: Clip
    content: Optional[Clip] = None  # None: texture synthesis
    seconds: float = 10.0  # texture length
    stereo: bool = False
    full_only: bool = False  # too long for the reduced run


CASES = (
    Case("texture-strings", Clip("strings", 12)),
    Case("texture-drums", Clip("drums", 10)),
    Case("transfer-speech-piano", Clip("piano", 10), Clip("speech", 10)),
    Case("transfer-short-style", Clip("ringtone", 1.5), Clip("guitar", 10)),
    Case("transfer-long-style", Clip("strings", 40), Clip("piano", 10)),
    Case("transfer-stereo-48k", Clip("ringtone", 1.5, 48000, 2, "PCM_24"),
         Clip("guitar", 10, 48000, 2, "PCM_24"), stereo=True),
    Case("transfer-60s-content", Clip("piano", 10), Clip("speech", 60), full_only=True),
)


def held_out_distance(path: Path, style: Path) -> float:
    """Relative Gram distance ``||G - G_s|| / ||G_s||`` of the file ``path`` to ``style`` under
    the held-out network (:func:`audiostyle.quality.heldout_style_distance`: widths 5 and 25,
    512 filters, seed 1234, no tool setting uses them)."""
    out, ref = load_audio(path), load_audio(style)
    return heldout_style_distance(out.samples, [ref.samples], out.sample_rate,
                                  [ref.sample_rate])


def problem(case: Case, paths: dict[str, Path], config: AudioStyleConfig,
            channel: int) -> dict[str, np.ndarray]:
    """The spectrograms, kernel and start point ``audiostyle`` uses for one channel."""
    style = working_signal(load_audio(paths["style"]), config, case.stereo, "style")
    style = style[channel:channel + 1] if style.shape[0] > 1 else downmix(style)
    out = {"style_spec": log_spectrogram(style, config.front.n_fft, config.front.hop)}  # (1, F, T_s)
    if case.content is not None:
        content = working_signal(load_audio(paths["content"]), config, case.stereo, "content")
        out["content_spec"] = log_spectrogram(content[channel:channel + 1], config.front.n_fft,
                                              config.front.hop)  # (1, F, T)
        frames = out["content_spec"].shape[-1]
    else:
        frames = num_frames(int(round(case.seconds * config.front.sample_rate)), config.front.hop)
    gen = torch.Generator().manual_seed(config.seed)
    for _ in range(channel + 1):  # audiostyle draws one start per channel, in order
        x0 = torch.randn(1, config.bins, frames, generator=gen) * config.optim.init_scale
    net = RandomConvBank(config.bins, config.features.filters, config.features.kernel_widths, seed=config.seed)
    out["x0"] = x0
    out["kernel"] = net.weight(config.features.kernel_widths[0])  # (filters, F, width)
    return {k: v.numpy() for k, v in out.items()}


def run_ours(case: Case, paths: dict[str, Path], config: AudioStyleConfig, out: Path,
             precision: str = "fp32") -> dict:
    args = ([str(paths["content"])] if case.content else []) + [str(paths["style"])]
    args = (["transfer"] if case.content else ["texture", "--seconds", str(case.seconds)]) + args
    args += ["-o", str(out), "--metrics", str(out.with_suffix(".json")), "--quiet",
             "--iterations", str(config.optim.iterations), "--filters", str(config.features.filters),
             "--griffin-lim-iters", str(config.reconstruction.griffin_lim_iters), "--device", "cpu",
             "--precision", precision,
             "--window-seconds", "1e6"]  # one piece, as the reference: losses compare
    if case.stereo:
        args.append("--stereo")
    t = time.perf_counter()
    status = audiostyle_main(args)
    wall = time.perf_counter() - t
    if status != 0:
        raise RuntimeError(f"audiostyle failed on {case.name}")
    m = json.loads(out.with_suffix(".json").read_text())
    return {"loss": m["loss"], "iterations": m["iterations"], "evaluations": m["evaluations"],
            "wall": wall, "held_out": held_out_distance(out, paths["style"])}


def run_tf(case: Case, paths: dict[str, Path], config: AudioStyleConfig, out: Path,
           tf_python: str, tmp: Path) -> dict:
    total = {"loss": 0.0, "iterations": 0, "evaluations": 0, "wall": 0.0}
    channels = 2 if case.stereo else 1
    for c in range(channels):
        arrays = problem(case, paths, config, c)
        tf_arrays = {"kernel": arrays["kernel"].transpose(2, 1, 0)[None],  # (1, K, F, filters)
                     "x0": arrays["x0"].transpose(0, 2, 1)[None],  # (1, 1, T, F)
                     "style_spec": arrays["style_spec"].transpose(0, 2, 1)[None]}
        if "content_spec" in arrays:
            tf_arrays["content_spec"] = arrays["content_spec"].transpose(0, 2, 1)[None]
        npz, js = tmp / f"{case.name}_{c}.npz", tmp / f"{case.name}_{c}.json"
        np.savez(npz, **tf_arrays)
        target = out if c == 0 else tmp / f"{case.name}_tf_{c}.wav"
        cmd = [tf_python, str(HERE / "reference_tf.py"), "--inputs", str(npz), "--style",
               str(paths["style"]), "--output", str(target), "--iterations",
               str(config.optim.iterations), "--griffin-lim", str(config.reconstruction.griffin_lim_iters),
               "--json", str(js)]
        if case.content:
            cmd += ["--content", str(paths["content"])]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"reference_tf.py failed on {case.name}: {proc.stderr[-800:]}")
        r = json.loads(js.read_text())
        total["loss"] += r["loss"]
        total["iterations"] += r["iterations"]
        total["evaluations"] += r["evaluations"]
        total["wall"] += sum(r["seconds"].values())
    total["held_out"] = held_out_distance(out, paths["style"])
    return total


def run_scipy(case: Case, paths: dict[str, Path], config: AudioStyleConfig) -> dict:
    total = {"loss": 0.0, "iterations": 0, "evaluations": 0, "wall": 0.0}
    for c in range(2 if case.stereo else 1):
        a = {k: torch.from_numpy(v) for k, v in problem(case, paths, config, c).items()}
        loss, seconds, evals, its = scipy_reference(
            a.get("content_spec"), a["style_spec"], a["kernel"], a["x0"],
            config.objective.content_weight if case.content else 0.0, config.optim.iterations)
        total["loss"] += loss
        total["evaluations"] += evals
        total["iterations"] += its
        total["wall"] += seconds
    return total


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--full", action="store_true",
                   help="the reference's settings: 4096 filters, 300 L-BFGS iterations, 500 "
                        "Griffin-Lim iterations, and the 60 s case")
    p.add_argument("--iterations", type=int, help="override the iterations")
    p.add_argument("--filters", type=int, help="override the filters")
    p.add_argument("--tf-python", help="a Python with tensorflow-cpu, scipy, librosa, soundfile")
    p.add_argument("--no-scipy", action="store_true", help="skip the scipy-torch baseline")
    p.add_argument("--bf16", action="store_true",
                   help="also run ours with --precision bf16 (row ours-bf16)")
    p.add_argument("--cases", help="comma-separated case names (default: all)")
    p.add_argument("--media", default=str(Path(tempfile.gettempdir()) / "styletoolkit_media"),
                   help="cache folder for the generated recordings")
    args = p.parse_args()
    config = AudioStyleConfig.build(**({} if args.full else dict(filters=1024, iterations=50,
                                                            griffin_lim_iters=100)))
    config = config.replace(iterations=args.iterations, filters=args.filters)
    chosen = set(args.cases.split(",")) if args.cases else None
    cases = [c for c in CASES if (chosen is None or c.name in chosen)
             and (args.full or not c.full_only or chosen)]
    media = Path(args.media)
    rows = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for case in cases:
            paths = {"style": clip_path(case.style, media)}
            if case.content:
                paths["content"] = clip_path(case.content, media)
            res = {"ours": run_ours(case, paths, config, tmp / f"{case.name}_ours.wav")}
            if args.bf16:
                res["ours-bf16"] = run_ours(case, paths, config, tmp / f"{case.name}_bf16.wav",
                                            "bf16")
            if args.tf_python:
                res["tf-ref"] = run_tf(case, paths, config, tmp / f"{case.name}_tf.wav",
                                       args.tf_python, tmp)
            if not args.no_scipy:
                res["scipy-torch"] = run_scipy(case, paths, config)
            rows.append((case.name, res))
            print(f"done {case.name}: " + ", ".join(
                f"{k} {v['loss']:.4g} ({v['evaluations']} ev, {v['wall']:.0f} s)"
                for k, v in res.items()), file=sys.stderr, flush=True)

    print(f"\naudio parity: {config.features.filters} filters x width {config.features.kernel_widths[0]}, "
          f"{config.optim.iterations} L-BFGS iterations, {config.reconstruction.griffin_lim_iters} Griffin-Lim "
          f"iterations, CPU, {torch.get_num_threads()} threads\n")
    print("| case | tool | final loss | evaluations (per it.) | wall s | held-out style dist. "
          "| loss / tf-ref | speed-up vs tf-ref |")
    print("|---|---|---|---|---|---|---|---|")
    for name, res in rows:
        ref = res.get("tf-ref")
        for tool, r in res.items():
            per_it = r["evaluations"] / max(r["iterations"], 1)
            held = f"{r['held_out']:.4f}" if "held_out" in r else "-"
            ratio = f"{r['loss'] / ref['loss']:.3f}" if ref else "-"
            speed = f"{ref['wall'] / r['wall']:.2f}x" if ref and tool.startswith("ours") else "-"
            wall = f"{r['wall']:.1f}" + ("" if tool != "scipy-torch" else " (opt. only)")
            print(f"| {name} | {tool} | {r['loss']:.2f} | {r['evaluations']} ({per_it:.2f}) | "
                  f"{wall} | {held} | {ratio} | {speed} |")


if __name__ == "__main__":
    from results import recorded

    with recorded("bench_audio_parity"):
        main()
