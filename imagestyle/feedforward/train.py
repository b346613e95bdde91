"""Training feed-forward generators with a perceptual loss (Johnson et al. 2016; Ulyanov et al. 2016).

:func:`train` is the entry point; the concerns it joins live beside it:

* :mod:`.config`: the settings (:class:`TrainConfig`), their defaults and validation, resume rules;
* :mod:`.distributed`: the process group under ``torchrun``;
* :mod:`.state`: the random state (per-step noise, the global RNGs saved in checkpoints);
* :mod:`.trainer`: the generator, the loss and one step (:class:`Trainer`), checkpoints.

The loss is the shared objective, :class:`shared.StyleContentObjective`, as the optimisation
methods use it: style Grams of the style image(s) are computed once, and the content term
compares the generated batch's features with the content batch's own, given with each call
(``objective(features, image=..., content_targets=...)``).

Reproducibility and resume: the model is initialised from ``seed``; the data order is a
function of ``(seed, epoch)``, the crops of ``(seed, epoch, index)``, and the noise of a step of
``(seed, rank, step)``. A checkpoint therefore needs only the weights, the optimiser, the step and
the data position to continue exactly (the global RNG states are saved and restored too), so a
resumed run matches an uninterrupted one with the same seed bit for bit on the same machine.

Multi-process: under ``torchrun`` (``WORLD_SIZE > 1``) the generator is wrapped in
:class:`~torch.nn.parallel.DistributedDataParallel` (NCCL on CUDA, gloo on CPU), each process reads
its shard through a distributed sampler, and only rank 0 writes checkpoints, model files and logs.
"""

from __future__ import annotations

import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

from shared import check_output_path

from .config import (DEFAULT_CONTENT_WEIGHT, DEFAULT_EPOCHS, DEFAULT_MODEL, DEFAULT_STYLE_WEIGHT,
                     DEFAULT_TEXTURE_STEPS, DEFAULT_TV_WEIGHT, RESUMABLE_CHANGES, TrainConfig,
                     check_resumable)
from .distributed import DistInfo, any_rank, finish_distributed, init_distributed
from .modelfile import load_checkpoint
from .state import noise_generator, rng_states, set_rng_states
from .trainer import Trainer

__all__ = ["DEFAULT_CONTENT_WEIGHT", "DEFAULT_EPOCHS", "DEFAULT_MODEL", "DEFAULT_STYLE_WEIGHT",
           "DEFAULT_TEXTURE_STEPS", "DEFAULT_TV_WEIGHT", "RESUMABLE_CHANGES", "DistInfo",
           "StopOnSignal", "TrainConfig", "TrainResult", "Trainer", "check_resumable",
           "init_distributed", "noise_generator", "rng_states", "set_rng_states", "train"]


@dataclass
class TrainResult:
    """What :func:`train` reports."""

    step: int  # steps done in total (including resumed ones)
    losses: list[dict[str, float]]  # per-step loss terms of this invocation (rank 0's batch)
    model_path: Path  # the model file
    checkpoint_path: Path  # the last checkpoint
    interrupted: bool = False  # stopped by Ctrl-C (after writing a checkpoint)
    images_per_second: float = 0.0  # training throughput of this invocation, all processes
    total_steps: int = 0  # the step count the run was asked for
    seconds: float = 0.0  # wall time of this invocation's steps
    rank: int = 0  # this process's rank (0 writes the files and reports)


class StopOnSignal:
    """Turn the first Ctrl-C (SIGINT) or SIGTERM into a request to stop after the current step.

    The training loop then writes a checkpoint and returns. A second Ctrl-C aborts at once
    (``KeyboardInterrupt``); the last checkpoint is intact because every write is atomic.
    Outside the main thread (where handlers cannot be installed) signals behave as usual.
    """

    def __init__(self, log: Callable[[str], None]) -> None:
        self.requested = False
        self.log = log
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.requested = True
        self.log("stopping after this step and writing a checkpoint (Ctrl-C again to abort)")

    def __enter__(self) -> "StopOnSignal":
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self._previous[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread
                pass
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def _default_log(message: str) -> None:
    from tqdm import tqdm

    tqdm.write(message, file=sys.stderr)


def _check_files(c: TrainConfig) -> Optional[dict[str, Any]]:
    """Check the output paths and the checkpoint's presence; read the checkpoint to resume
    (before the slower dataset scan and model building)."""
    ckpt = Path(c.checkpoint)  # type: ignore[arg-type]
    check_output_path(c.out, [*c.styles, ckpt], what="out")
    check_output_path(ckpt, c.styles, what="checkpoint")
    if c.resume and not ckpt.exists():
        raise ValueError(f"resume is set but there is no checkpoint at {ckpt}")
    if not c.resume and ckpt.exists():
        raise ValueError(f"a checkpoint already exists at {ckpt}: set resume to continue that "
                         "run, or delete it to start afresh")
    if not c.resume:
        return None
    saved = load_checkpoint(ckpt)
    check_resumable(saved["config"], c, ckpt)
    return saved


def _run_steps(trainer: Trainer, stop: StopOnSignal,
               on_step: Optional[Callable[[int, dict[str, float]], None]]
               ) -> tuple[list[dict[str, float]], int]:
    """Step until the target or a stop request; checkpoint every ``checkpoint_every`` steps and
    once at the end. Returns the loss terms of each step and the images seen."""
    from tqdm import tqdm

    c, info = trainer.c, trainer.dist
    losses: list[dict[str, float]] = []
    bar = tqdm(total=trainer.total_steps, initial=trainer.step, unit="step", dynamic_ncols=True,
               disable=c.quiet or not info.is_main, file=sys.stderr, delay=2.0)
    images, start, saved_step = 0, time.perf_counter(), -1
    batches = trainer.batches()
    try:
        while trainer.step < trainer.total_steps and not any_rank(stop.requested, info,
                                                                  trainer.device):
            values = trainer.take_step(next(batches))
            losses.append(values)
            images += c.batch_size * info.world_size
            if on_step is not None:
                on_step(trainer.step, values)
            if trainer.step % max(1, c.log_every) == 0 or trainer.step == trainer.total_steps:
                rate = images / max(1e-9, time.perf_counter() - start)
                bar.set_postfix({k: f"{v:.3g}" for k, v in values.items()} | {"img/s": f"{rate:.1f}"},
                                refresh=False)  # shown with the next update, after 2 s
            bar.update(1)
            if c.checkpoint_every and trainer.step % c.checkpoint_every == 0:
                trainer.save()
                saved_step = trainer.step
    finally:
        bar.close()
    if saved_step != trainer.step:
        trainer.save()
    return losses, images


def train(config: TrainConfig, log: Optional[Callable[[str], None]] = None,
          on_step: Optional[Callable[[int, dict[str, float]], None]] = None) -> TrainResult:
    """Train a generator as ``config`` says; write checkpoints and the model file.

    Args:
        config: The run's settings (defaults are filled in and checked here).
        log: Where rank 0's messages go (default: stderr, beside the progress bar).
        on_step: Called on every process after each step with ``(step, loss terms)``
            (tests use it to interrupt a run).

    Returns:
        :class:`TrainResult`. A Ctrl-C or SIGTERM stops the run after the current step, writes a
        checkpoint and the model file, and returns with ``interrupted=True`` (see
        :class:`StopOnSignal`); a second Ctrl-C raises ``KeyboardInterrupt`` and leaves the
        files of the last checkpoint as they were.

    Raises:
        ValueError: bad settings, an image-less dataset, unreadable style images, outputs that
            cannot be written or would overwrite a style image, ``resume`` with no or an
            incompatible checkpoint, an existing checkpoint without ``resume``.
        FileNotFoundError: a missing dataset folder or style image.
    """
    c = config.resolved()
    saved = _check_files(c)
    dist_info, device = init_distributed(c.device)
    say = log or _default_log
    log_main = (lambda m: say(m)) if dist_info.is_main else (lambda m: None)
    trainer = Trainer(c, dist_info, device, log_main)
    if saved is not None:
        trainer.restore(saved, Path(c.checkpoint))  # type: ignore[arg-type]
        log_main(f"resumed from {c.checkpoint} at step {trainer.step}")
    if trainer.step >= trainer.total_steps:
        log_main(f"already trained for {trainer.step} steps (target {trainer.total_steps})")
    trainer.net.train()
    start = time.perf_counter()
    with StopOnSignal(log_main) as stop:
        losses, images = _run_steps(trainer, stop, on_step)
    elapsed = time.perf_counter() - start
    finish_distributed(dist_info)
    return TrainResult(step=trainer.step, losses=losses, model_path=Path(c.out),
                       checkpoint_path=Path(c.checkpoint),  # type: ignore[arg-type]
                       interrupted=stop.requested, images_per_second=images / max(elapsed, 1e-9),
                       total_steps=trainer.total_steps, seconds=elapsed, rank=dist_info.rank)
