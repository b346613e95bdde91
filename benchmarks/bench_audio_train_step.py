"""Training-step speed of the feed-forward audio trainer (issue 24): the loss network's
arithmetic, float32 against bfloat16, on this machine.

The random loss network (4096 filters of width 11 over 1025 bins) takes most of a training
step on a CPU. ``AudioTrainConfig.precision`` runs it in bfloat16 where that is native (a GPU,
or a CPU with AVX512-BF16 or AMX). This prints, in one run:

1. The machine: CPU model, and whether torch sees AVX512-BF16 and AMX (``auto``'s choice).
2. The loss network's convolution alone, forward and input gradient, at a ``quick`` step's
   shape (8 crops of 3 s, 1024 filters): float32 against bfloat16, one thread.
3. Whole training steps (the mean of ``--steps`` after two unmeasured ones) of the ``quick``
   stylisation recipe (8 crops over 1024 filters) and of the ``quick`` texture recipe (2 crops
   over all 4096), at ``precision`` fp32 and bf16, with one torch thread and with two.
4. The loss of the same crops at both precisions (style term and total, relative difference).

    python benchmarks/bench_audio_train_step.py                  # about 3 minutes on 2 cores
    python benchmarks/bench_audio_train_step.py --dataset corpus/    # else pieces of examples/

Run it alone on the cores: the figures are the machine's as much as the code's.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import soundfile as sf
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results import recorded  # noqa: E402

from audiostyle import load_audio  # noqa: E402
from audiostyle.feedforward import AudioTrainConfig  # noqa: E402
from audiostyle.feedforward.trainer import AudioTrainer  # noqa: E402
from shared import native_bf16  # noqa: E402
from shared.training import DistInfo  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def cpu_name() -> str:
    """The CPU's model name (Linux), else the platform's processor string."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def example_pieces(out: Path, seconds: float = 3.5) -> Path:
    """A dataset folder of ``seconds``-long pieces of the examples' speech and music (enough
    files for a batch of 8)."""
    out.mkdir(parents=True, exist_ok=True)
    for name in ("speech.wav", "music.wav"):
        clip = load_audio(ROOT / "examples" / name, mono=True)
        n = int(seconds * clip.sample_rate)
        wave = clip.samples[0].numpy()
        for i in range(0, max(1, len(wave) - n + 1), n // 2):
            sf.write(out / f"{Path(name).stem}_{i}.wav", wave[i:i + n], clip.sample_rate)
    return out


def conv_seconds(dtype: torch.dtype, repeats: int = 5) -> float:
    """Mean seconds of the loss convolution's forward and input gradient at a quick step's
    shape ``(8, 1025, 130)`` x ``(1024, 1025, 11)``, one thread."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(8, 1025, 130, generator=g).to(dtype).requires_grad_(True)
    w = (torch.randn(1024, 1025, 11, generator=g) * 0.01).to(dtype)

    def once() -> None:
        torch.nn.functional.conv1d(x, w).sum().backward()

    once()
    start = time.perf_counter()
    for _ in range(repeats):
        once()
    return (time.perf_counter() - start) / repeats


def trainer(mode: str, precision: str, dataset: Path, out: Path) -> AudioTrainer:
    config = AudioTrainConfig(styles=[str(ROOT / "examples" / "music.wav")],
                              out=str(out / f"{mode}-{precision}.pt"), mode=mode,
                              dataset=str(dataset) if mode == "stylize" else None,
                              precision=precision, quiet=True, device="cpu").resolved()
    return AudioTrainer(config, DistInfo(), torch.device("cpu"), lambda m: None)


def step_seconds(t: AudioTrainer, steps: int) -> float:
    """Mean seconds of ``steps`` training steps, after two unmeasured ones."""
    batches = t.batches()
    times = []
    for i in range(steps + 2):
        batch = next(batches)
        start = time.perf_counter()
        t.take_step(batch)
        t.step += 1
        if i >= 2:
            times.append(time.perf_counter() - start)
    return statistics.mean(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", type=Path, help="content recordings (default: 3.5 s pieces of "
                   "the examples)")
    p.add_argument("--steps", type=int, default=5, help="measured steps per row (default: 5)")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp, recorded("bench_audio_train_step"):
        out = Path(tmp)
        dataset = args.dataset or example_pieces(out / "pieces")
        cpu = torch.device("cpu")
        print(f"CPU: {cpu_name()}; torch {torch.__version__}; AVX512-BF16 "
              f"{torch.cpu._is_avx512_bf16_supported()}, AMX {torch.cpu._is_amx_tile_supported()}"
              f"; precision auto -> {'bf16' if native_bf16(cpu) else 'fp32'}")
        torch.set_num_threads(1)
        f32, b16 = conv_seconds(torch.float32), conv_seconds(torch.bfloat16)
        print("\n| loss convolution, forward + input gradient (8 x 3 s, 1024 filters), 1 thread "
              "| fp32 s | bf16 s | fp32 / bf16 |\n|---|---|---|---|")
        print(f"| (8, 1025, 130) x (1024, 1025, 11) | {f32:.3f} | {b16:.3f} | {f32 / b16:.2f}x |")
        print("\n| quick recipe | threads | fp32 s a step | bf16 s a step | fp32 / bf16 |"
              "\n|---|---|---|---|---|")
        losses = {}
        for mode in ("stylize", "texture"):
            for threads in (1, 2):
                torch.set_num_threads(threads)
                seconds = {}
                for precision in ("fp32", "bf16"):
                    t = trainer(mode, precision, dataset, out)
                    if threads == 1:  # the same first crops at both precisions
                        batch = next(t.batches())
                        with torch.no_grad():
                            losses[mode, precision] = t.loss(batch)[1]
                    seconds[precision] = step_seconds(t, args.steps)
                recipe = "stylise: 8 crops, 1024 of 4096 filters" if mode == "stylize" else \
                    "texture: 2 crops, all 4096 filters"
                print(f"| {recipe} | {threads} | {seconds['fp32']:.3f} | {seconds['bf16']:.3f} "
                      f"| {seconds['fp32'] / seconds['bf16']:.2f}x |", flush=True)
        print("\n| first batch's loss | term | fp32 | bf16 | relative difference |"
              "\n|---|---|---|---|---|")
        for mode in ("stylize", "texture"):
            for term in ("style", "total"):
                a, b = losses[mode, "fp32"][term], losses[mode, "bf16"][term]
                print(f"| {mode} | {term} | {a:.6g} | {b:.6g} | {(b - a) / a:+.2%} |")


if __name__ == "__main__":
    main()
