"""Feed-forward audio benchmark (issue 24): a network trained once per style against the
optimisation, on clips it never saw, in one run.

1. Training: ``audiostyle train STYLE --dataset CORPUS --preset quick`` (the corpus of
   ``examples/make_training_corpus.sh``), timed; and ``--mode texture`` on the style alone.
2. Stylising, per unseen clip (examples/speech.wav, a British voice on sentences the corpus
   does not have, a strummed guitar, drums and bass; 22.05 kHz mono): the network's result
   beside ``audiostyle transfer --preset default`` and ``--preset fast``, every one judged on
   the written file with :mod:`audiostyle.quality` (held-out network, one loudness): held-out
   style distance, gap closed, content distance; the optimisation's own loss of the written
   samples (the objective the network was trained on and the optimiser minimises); seconds.
   The network's seconds are end to end (model and clip loaded, stylised, file written), with
   one torch thread and with two.
3. Streaming: the algorithmic latency (the frames' look-back ``n_fft - hop`` plus one block;
   no look-ahead) at the defaults and at smaller STFTs, and the stream's real-time factor.
4. Texture: two seeds drawn from the texture model beside ``audiostyle texture --preset
   fast``, held-out style distance each, and how much the seeds differ.
5. Input level: each clip scaled by 0, -12 and -24 dB, stylised by the network, gap closed
   and content distance of each (the measures are at one loudness, so a network that answers
   every level alike gives one row of equal figures).

``--network-only`` skips the optimisation's rows, the stream and the texture (minutes, not an
hour): the network's rows and the level table of a model, to compare models by.

    python benchmarks/bench_audio_feedforward.py                 # about an hour on 2 cores
    python benchmarks/bench_audio_feedforward.py --model M.pt --texture-model T.pt \\
        --train-seconds 1500 --texture-train-seconds 440         # reuse trained models

Needs espeak-ng, sox, fluidsynth and fluid-soundfont-gm (generated media).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from media import SENTENCES, Clip, clip_path  # noqa: E402
from results import recorded  # noqa: E402

from audiostyle import load_audio  # noqa: E402
from audiostyle.cli import main as audiostyle_main  # noqa: E402
from audiostyle.feedforward.modelfile import load_model  # noqa: E402
from audiostyle.feedforward.networks import FrameCodec  # noqa: E402
from audiostyle.feedforward.stylize import stylize_files, stylize_wave  # noqa: E402
from audiostyle.objective import WAVEFORM_EPS, build_objective  # noqa: E402
from audiostyle.pipeline import build_networks  # noqa: E402
from audiostyle.presets import preset_config  # noqa: E402
from audiostyle.quality import quality_measures  # noqa: E402
from audiostyle.targets import StyleTargets  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RATE = 22050


def _british_speech(out: Path, seconds: float) -> Path:
    """A British voice reading the benchmark's sentences (none of them in the corpus)."""
    if out.exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    raw = out.with_suffix(".raw.wav")
    subprocess.run(["espeak-ng", "-v", "en-gb+f2", "-s", "165", "-p", "60", "-w", str(raw),
                    SENTENCES.split(". ", 2)[-1]], check=True, capture_output=True)
    subprocess.run(["sox", str(raw), "-r", str(RATE), "-c", "1", "-b", "16", str(out), "trim",
                    "0", str(seconds), "highpass", "30", "norm", "-3"], check=True,
                   capture_output=True)
    raw.unlink()
    return out


def clips(media: Path, seconds: float) -> dict[str, Path]:
    """The unseen content clips, by name."""
    return {"speech (examples)": ROOT / "examples" / "speech.wav",
            "speech (en-gb voice)": _british_speech(media / "speech_gb.wav", seconds),
            "guitar": clip_path(Clip("guitar", seconds), media),
            "drums and bass": clip_path(Clip("drums", seconds), media)}


def objective_loss(path: Path, style: Path, content: Optional[Path]) -> float:
    """The optimisation's loss (``--preset default``'s objective) of a written file's samples:
    what the optimiser minimises on the spectrogram and the network on the samples."""
    mode = "transfer" if content is not None else "texture"
    config = preset_config("default", mode)
    spectral = config.spectral

    def wave(p: Path) -> torch.Tensor:
        clip = load_audio(p, mono=True)
        from audiostyle.dsp import resample
        return resample(clip.samples, clip.sample_rate, config.front.sample_rate)

    net = build_networks(config, torch.device("cpu"))["spectrogram"]
    targets = StyleTargets(net, [wave(style)], [1.0], config).channel(0)
    with torch.no_grad():
        out = wave(path)
        spec_c = None if content is None else spectral.log(wave(content)[:, :out.shape[-1]])
        objective = build_objective(net, targets, spec_c, config)
        return float(objective(net(spectral.log(out, WAVEFORM_EPS))).total)


def run_cli(args: list[str]) -> float:
    t = time.perf_counter()
    if audiostyle_main(args) != 0:
        raise RuntimeError(f"audiostyle failed: {' '.join(args)}")
    return time.perf_counter() - t


def train_models(style: Path, corpus: Path, out: Path, preset: str) -> dict[str, float]:
    """Train the stylisation and texture models; their seconds."""
    seconds = {}
    for mode in ("stylize", "texture"):
        model = out / f"{mode}.pt"
        args = ["train", str(style), "-o", str(model), "--preset", preset, "--device", "cpu",
                "--quiet", "--mode", mode]
        if mode == "stylize":
            args += ["--dataset", str(corpus)]
        seconds[mode] = run_cli(args)
        print(f"trained {mode} model in {seconds[mode]:.0f} s", flush=True)
    return seconds


def network_seconds(model: Path, clip: Path, out: Path, threads: int) -> float:
    """End to end: model and clip loaded, stylised, file written (best of 3)."""
    torch.set_num_threads(threads)
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        stylize_files(model, [clip], out)
        best = min(best, time.perf_counter() - t)
    torch.set_num_threads(2)
    return best


def measure(path: Path, style: Path, content: Optional[Path]) -> dict:
    def samples(p: Path) -> tuple[torch.Tensor, int]:
        c = load_audio(p, mono=True)
        return c.samples, c.sample_rate

    wave, rate = samples(path)
    s, sr = samples(style)
    c, cr = samples(content) if content is not None else (None, None)
    q = quality_measures(wave, rate, [s], [sr], content=c, content_rate=cr)
    q["loss"] = objective_loss(path, style, content)
    return q


def _f(v: Optional[float], d: int = 3) -> str:
    return "-" if v is None else f"{v:.{d}g}"


def transfer_table(model: Path, style: Path, cases: dict[str, Path], out: Path,
                   presets: tuple[str, ...] = ("default", "fast")) -> list[dict]:
    """Table 2: per clip, the network beside the optimisation's ``presets``."""
    rows = []
    print("\n| clip | pipeline | held-out style distance | gap closed | content distance | "
          "loss (the objective) | seconds | x real time |")
    print("|---|---|---|---|---|---|---|---|")
    for name, clip in cases.items():
        audio = load_audio(clip).seconds
        results = {}
        for preset in presets:
            path = out / f"{clip.stem}_{preset}.wav"
            wall = run_cli(["transfer", str(clip), str(style), "-o", str(path), "--preset", preset,
                            "--quiet", "--device", "cpu"])
            results[preset] = (path, wall)
        path = out / f"{clip.stem}_network.wav"
        one = network_seconds(model, clip, path, 1)
        two = network_seconds(model, clip, path, 2)
        results["network"] = (path, two)
        for pipeline, (p, wall) in results.items():
            q = measure(p, style, clip)
            row = dict(clip=name, pipeline=pipeline, seconds=wall, audio=audio, **q,
                       one_thread=one if pipeline == "network" else None)
            rows.append(row)
            timing = f"{wall:.3g}" + (f" (1 thread: {one:.3g})" if pipeline == "network" else "")
            speed = f"{audio / wall:.3g}" + (f" (1 thread: {audio / one:.3g})"
                                              if pipeline == "network" else "")
            print(f"| {name} | {pipeline} | {_f(q['heldout_style_distance'])} | "
                  f"{_f(q['gap_closed'])} | {_f(q['content_distance'])} | {_f(q['loss'], 4)} | "
                  f"{timing} | {speed} |", flush=True)
    return rows


LEVELS_DB = (0.0, -12.0, -24.0)


def level_table(model: Path, style: Path, cases: dict[str, Path], out: Path) -> list[dict]:
    """Table 5: the network's result on each clip at :data:`LEVELS_DB`."""
    import soundfile as sf

    print("\n| clip | " + " | ".join(f"gap closed at {g:g} dB" for g in LEVELS_DB) + " | "
          + " | ".join(f"content at {g:g} dB" for g in LEVELS_DB) + " |")
    print("|---|" + "---|" * (2 * len(LEVELS_DB)))
    rows = []
    for name, clip in cases.items():
        data, rate = sf.read(str(clip), dtype="float32", always_2d=True)
        gaps, contents = [], []
        for gain in LEVELS_DB:
            scaled = out / f"{clip.stem}_{-gain:g}dB.wav"
            sf.write(str(scaled), data * 10 ** (gain / 20), rate, subtype="FLOAT")
            result = out / f"{clip.stem}_{-gain:g}dB_network.wav"
            stylize_files(model, [scaled], result)
            q = measure(result, style, scaled)
            q.pop("loss")
            rows.append(dict(clip=name, gain_db=gain, **q))
            gaps.append(q["gap_closed"])
            contents.append(q["content_distance"])
        print(f"| {name} | " + " | ".join(_f(g) for g in gaps) + " | "
              + " | ".join(_f(c) for c in contents) + " |", flush=True)
    return rows


def stream_table(model: Path, clip: Path) -> None:
    """Table 3: latency and the stream's speed."""
    net, info = load_model(model)
    wave = load_audio(clip, mono=True).samples
    print("\n| STFT (n_fft / hop) | block | algorithmic latency | look-ahead | "
          "stream x real time |")
    print("|---|---|---|---|---|")
    for block_ms in (None, 20.0, 50.0):
        block = net.codec.hop if block_ms is None else int(block_ms * RATE / 1000)
        t = time.perf_counter()
        stylize_wave(net, wave, RATE, block=block)
        took = time.perf_counter() - t
        latency = 1000 * (net.codec.delay + block) / RATE
        print(f"| {net.codec.n_fft} / {net.codec.hop} (the model) | {1000 * block / RATE:.1f} ms "
              f"| {latency:.1f} ms | 0 | {wave.shape[-1] / RATE / took:.0f} |")
    for n_fft, hop in ((512, 128), (256, 64)):
        codec = FrameCodec(n_fft, hop)
        print(f"| {n_fft} / {hop} (smaller) | {1000 * hop / RATE:.1f} ms | "
              f"{1000 * (codec.delay + hop) / RATE:.1f} ms | 0 | (a model of that STFT) |")


def texture_table(model: Path, style: Path, out: Path, seconds: float) -> list[dict]:
    """Table 4: two seeds of the texture model beside ``texture --preset fast``."""
    print("\n| texture | held-out style distance | seconds |")
    print("|---|---|---|")
    rows = []
    fast = out / "texture_fast.wav"
    wall = run_cli(["texture", str(style), "--seconds", str(seconds), "-o", str(fast), "--preset",
                    "fast", "--quiet", "--device", "cpu"])
    q = measure(fast, style, None)
    rows.append(dict(pipeline="fast", seconds=wall, **q))
    print(f"| texture --preset fast | {_f(q['heldout_style_distance'])} | {wall:.3g} |")
    waves = []
    for seed in (1, 2):
        path = out / f"texture_seed{seed}.wav"
        wall = run_cli(["sample", "--model", str(model), "--seconds", str(seconds), "--seed",
                        str(seed), "-o", str(path)])
        q = measure(path, style, None)
        rows.append(dict(pipeline=f"network seed {seed}", seconds=wall, **q))
        waves.append(load_audio(path).samples)
        print(f"| network, seed {seed} | {_f(q['heldout_style_distance'])} | {wall:.3g} |")
    diff = float((waves[0] - waves[1]).abs().mean() / waves[0].abs().mean())
    print(f"\nseeds 1 and 2 differ by {diff:.2f} of the mean absolute sample")
    return rows


def verdict(rows: list[dict], texture: list[dict], train_seconds: dict[str, float]) -> None:
    """The issue's targets, each held or not."""
    by = {(r["clip"], r["pipeline"]): r for r in rows}
    names = list(dict.fromkeys(r["clip"] for r in rows))
    quality = [by[(n, "network")]["gap_closed"] >= by[(n, "default")]["gap_closed"]
               and by[(n, "network")]["content_distance"]
               <= by[(n, "default")]["content_distance"] + 0.05 for n in names]
    rtf = min(by[(n, "network")]["audio"] / by[(n, "network")]["seconds"] for n in names)
    speedup = min(by[(n, "default")]["seconds"] / by[(n, "network")]["seconds"] for n in names)
    fast = next((r["heldout_style_distance"] for r in texture if r["pipeline"] == "fast"), None)
    worst = max((r["heldout_style_distance"] for r in texture if r["pipeline"] != "fast"),
                default=None)
    print("\n| target | measured | held |")
    print("|---|---|---|")
    print(f"| >= 100x real time, end to end, 2 threads | {rtf:.0f}x (slowest clip) | "
          f"{'yes' if rtf >= 100 else 'no'} |")
    print(f"| >= 1000x faster than --preset default | {speedup:.0f}x (least) | "
          f"{'yes' if speedup >= 1000 else 'no'} |")
    print(f"| gap closed >= default's at content distance <= default's + 0.05, on >= 3 of 4 | "
          f"{sum(quality)} of {len(quality)} | {'yes' if sum(quality) >= 3 else 'no'} |")
    trained = train_seconds.get("stylize", float("nan"))
    if trained == trained:
        print(f"| quick preset trains within 30 min | {trained / 60:.1f} min | "
              f"{'yes' if trained <= 1800 else 'no'} |")
    else:
        print("| quick preset trains within 30 min | not timed in this run | - |")
    if fast is None or worst is None:
        print("| texture within 1.5x of texture --preset fast | not run (no texture model) | - |")
    else:
        print(f"| texture within 1.5x of texture --preset fast | {worst / fast:.2f}x (worst "
              f"seed) | {'yes' if worst <= 1.5 * fast else 'no'} |")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--style", type=Path, default=ROOT / "examples" / "music.wav")
    p.add_argument("--model", type=Path, help="a trained stylisation model (skips training)")
    p.add_argument("--texture-model", type=Path, help="a trained texture model")
    p.add_argument("--train-seconds", type=float, help="the given stylisation model's training "
                   "seconds")
    p.add_argument("--texture-train-seconds", type=float,
                   help="the given texture model's training seconds")
    p.add_argument("--preset", default="quick")
    p.add_argument("--seconds", type=float, default=10.0, help="length of the generated clips")
    p.add_argument("--out", type=Path, help="keep the files here (default: a temporary folder)")
    p.add_argument("--network-only", action="store_true", help="only the network's rows and "
                   "the level table (needs --model)")
    args = p.parse_args()
    if args.network_only and args.model is None:
        p.error("--network-only needs --model")
    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory() as tmp, recorded("bench_audio_feedforward"):
        out = args.out or Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        media = out / "media"
        cases = clips(media, args.seconds)
        print(f"style: {args.style.name}; clips: {', '.join(cases)}; preset {args.preset}")
        if args.model is None:
            corpus = out / "corpus"
            subprocess.run(["bash", str(ROOT / "examples" / "make_training_corpus.sh"),
                            str(corpus)], check=True, capture_output=True)
            train_seconds = train_models(args.style, corpus, out, args.preset)
            model, texture = out / "stylize.pt", out / "texture.pt"
        else:
            model, texture = args.model, args.texture_model
            train_seconds = {"stylize": args.train_seconds or float("nan"),
                             "texture": args.texture_train_seconds or float("nan")}
        timed = {k: v for k, v in train_seconds.items() if v == v}  # nan: not given
        if timed:
            print("\n| training | seconds |\n|---|---|")
            for k, v in timed.items():
                print(f"| {k} ({args.preset}) | {v:.0f} |")
        if args.model is not None:
            print(f"\nmodels: {args.model}" + (f", {args.texture_model}" if texture else ""))
        presets = () if args.network_only else ("default", "fast")
        rows = transfer_table(model, args.style, cases, out, presets)
        levels = level_table(model, args.style, cases, out)
        tex = []
        if not args.network_only:
            stream_table(model, cases["guitar"])
            tex = texture_table(texture, args.style, out, args.seconds) if texture else []
        if presets:
            verdict(rows, tex, train_seconds)
        (out / "rows.json").write_text(json.dumps({"transfer": rows, "texture": tex,
                                                   "levels": levels}, indent=1, default=str))


if __name__ == "__main__":
    main()
