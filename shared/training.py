"""One training infrastructure for every feed-forward network (images and audio).

A pipeline supplies a trainer (:class:`Steppable`: its generator, loss and data position) and
:func:`fit` runs it: exact resume from a checkpoint, a Ctrl-C that stops after the current step
and writes the model, a progress bar, checkpoints every ``checkpoint_every`` steps, and several
processes under ``torchrun`` that stop on the same step. What the pipelines share:

* the random state (:func:`noise_generator`: the noise of a step is a pure function of
  ``(seed, rank, step)``; :func:`rng_states` / :func:`set_rng_states`: the global RNGs saved in
  checkpoints), so that a resumed run matches an uninterrupted one bit for bit on one machine;
* the process group (:func:`init_distributed`, :func:`any_rank`, :func:`finish_distributed`);
* the data order (:class:`ResumableSampler`: a permutation of ``(seed, epoch)`` that can start
  part-way through an epoch, with any number of data-loader workers);
* the stop request (:class:`StopOnSignal`) and the loop (:func:`run_steps`, :func:`fit`).

The pipelines' own parts (datasets, networks, losses, file formats) stay in the pipelines; the
checkpoint files' common handling is :mod:`shared.checkpoints`.
"""

from __future__ import annotations

import ast
import math
import random
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Protocol

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import Dataset, DistributedSampler

from .device import select_device
from .distributed import GroupPlace, join_torchrun_group, leave_group
from .io import check_output_path
from .optim import NonFiniteLossError

DistInfo = GroupPlace  # where this process sits in a (possibly single-process) run
OnStep = Callable[[int, dict[str, float]], None]


# -- the random state --------------------------------------------------------------------------
def noise_generator(seed: int, rank: int, step: int) -> torch.Generator:
    """The CPU generator of the noise of one step: a pure function of ``(seed, rank, step)``."""
    state = np.random.SeedSequence([seed, rank, step]).generate_state(2, dtype=np.uint32)
    return torch.Generator().manual_seed(int(state[0]) << 32 | int(state[1]))


def rng_states() -> dict[str, Any]:
    """The global RNG states (Python, NumPy, torch CPU and CUDA) as tensors and plain values."""
    np_state = np.random.get_state()
    states: dict[str, Any] = {
        "python": repr(random.getstate()),
        "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), int(np_state[2]),
                  int(np_state[3]), float(np_state[4])],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def set_rng_states(states: dict[str, Any]) -> None:
    """Restore what :func:`rng_states` saved (missing entries are left alone)."""
    if "python" in states:
        random.setstate(ast.literal_eval(states["python"]))
    if "numpy" in states:
        name, keys, pos, has_gauss, cached = states["numpy"]
        np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    if "torch" in states:
        torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available() and \
            len(states["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(states["cuda"])


# -- the process group -------------------------------------------------------------------------
def init_distributed(device_spec: str) -> tuple[DistInfo, torch.device]:
    """Join the process group when launched by torchrun (``WORLD_SIZE > 1``); pick the device
    (``cuda:LOCAL_RANK`` for ``auto`` or ``cuda`` in a group)."""
    info, device = join_torchrun_group(device_spec)
    return info, select_device(device)


def any_rank(flag: bool, info: DistInfo, device: torch.device) -> bool:
    """True if ``flag`` is set on any process (so all processes stop at the same step)."""
    if info.world_size == 1:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)


def finish_distributed(info: DistInfo) -> None:
    """Wait for every process, then leave the process group (nothing for one process)."""
    if info.world_size > 1:
        leave_group(wait=True)


# -- the data order ----------------------------------------------------------------------------
class ResumableSampler(DistributedSampler):
    """:class:`DistributedSampler` that can start part-way through an epoch.

    Works without a process group when ``num_replicas`` and ``rank`` are given (one process).
    The permutation is a function of ``(seed, epoch)``, as in the parent class.
    """

    def __init__(self, dataset: Dataset, num_replicas: int, rank: int, seed: int) -> None:
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=True, seed=seed,
                         drop_last=False)
        self.start = 0

    def set_start(self, start: int) -> None:
        """Skip the first ``start`` indices of this rank's share of the next epoch."""
        self.start = start

    def __iter__(self) -> Iterator[int]:
        indices = list(super().__iter__())
        return iter(indices[self.start:])

    def __len__(self) -> int:
        return max(0, self.num_samples - self.start)


def batches_per_epoch(n_items: int, world_size: int, batch_size: int) -> int:
    """Full batches each process sees per epoch (the last partial batch is dropped)."""
    return math.ceil(n_items / world_size) // batch_size


def epoch_batches(dataset: Any, sampler: ResumableSampler, state: "Steppable", batch_size: int,
                  workers: int, device: torch.device) -> Iterator[Any]:
    """Batches forever from ``state``'s data position (its ``epoch`` and ``batch_in_epoch``,
    which the step advances): each epoch sets the dataset's and sampler's epoch first, and
    starts part-way through on resume."""
    while True:
        dataset.set_epoch(state.epoch)
        sampler.set_epoch(state.epoch)
        sampler.set_start(state.batch_in_epoch * batch_size)
        loader = torch.utils.data.DataLoader(
            dataset, batch_size=batch_size, sampler=sampler, drop_last=True,
            num_workers=workers, pin_memory=device.type == "cuda", persistent_workers=False)
        yield from loader
        state.epoch += 1
        state.batch_in_epoch = 0


# -- one update -------------------------------------------------------------------------------
def update(trainer: Any, total: torch.Tensor, advice: str, data_step: bool) -> None:
    """One optimiser step of ``trainer`` (its ``optimizer``, ``step``, ``batch_in_epoch``) on
    the loss ``total``; ``data_step``: the step read a batch of the dataset.

    Raises:
        NonFiniteLossError: the loss is NaN or infinite (nothing is updated); the message says
            ``advice`` (what to lower).
    """
    if not torch.isfinite(total):
        raise NonFiniteLossError(
            f"the loss became {float(total.detach())} at step {trainer.step}; {advice}, then "
            "resume from the last checkpoint", iteration=trainer.step)
    trainer.optimizer.zero_grad(set_to_none=True)
    total.backward()
    trainer.optimizer.step()
    trainer.step += 1
    if data_step:
        trainer.batch_in_epoch += 1


# -- stopping ----------------------------------------------------------------------------------
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


# -- the loop ----------------------------------------------------------------------------------
class Steppable(Protocol):
    """What :func:`fit` needs of a pipeline's trainer."""

    dist: DistInfo
    device: torch.device
    step: int
    total_steps: int
    epoch: int
    batch_in_epoch: int
    net: torch.nn.Module  # the network trained (put in training mode by :func:`train_run`)

    def batches(self) -> Iterator[Any]: ...  # the data of each step, forever

    def take_step(self, batch: Any) -> dict[str, float]: ...  # one update; the loss terms

    def save(self) -> None: ...  # checkpoint and model file (rank 0; atomic)

    def restore(self, data: dict[str, Any], path: Path) -> None: ...  # continue a checkpoint


@dataclass(frozen=True)
class LoopSettings:
    """How :func:`fit` reports and checkpoints."""

    items_per_step: int  # examples in one step of one process (the batch size)
    unit: str = "step"  # the progress bar's unit
    rate_unit: str = "items/s"  # the throughput's label on the bar
    checkpoint_every: int = 1000  # steps between checkpoints (0: only at the end)
    log_every: int = 10  # steps between refreshes of the loss terms on the bar
    quiet: bool = False  # no progress bar


@dataclass
class TrainResult:
    """What :func:`fit` reports."""

    step: int  # steps done in total (including resumed ones)
    losses: list[dict[str, float]]  # per-step loss terms of this invocation (rank 0's batch)
    model_path: Path  # the model file
    checkpoint_path: Path  # the last checkpoint
    interrupted: bool = False  # stopped by Ctrl-C (after writing a checkpoint)
    items_per_second: float = 0.0  # training throughput of this invocation, all processes
    total_steps: int = 0  # the step count the run was asked for
    seconds: float = 0.0  # wall time of this invocation's steps
    rank: int = 0  # this process's rank (0 writes the files and reports)

    @property
    def images_per_second(self) -> float:
        """:attr:`items_per_second` of an image trainer."""
        return self.items_per_second


def default_log(message: str) -> None:
    """Messages beside the progress bar, on stderr."""
    from tqdm import tqdm

    tqdm.write(message, file=sys.stderr)


def run_steps(trainer: Steppable, stop: StopOnSignal, settings: LoopSettings,
              on_step: Optional[OnStep] = None) -> tuple[list[dict[str, float]], int]:
    """Step until the target or a stop request; checkpoint every ``checkpoint_every`` steps and
    once at the end. Returns the loss terms of each step and the examples seen."""
    from tqdm import tqdm

    info, s = trainer.dist, settings
    losses: list[dict[str, float]] = []
    bar = tqdm(total=trainer.total_steps, initial=trainer.step, unit=s.unit, dynamic_ncols=True,
               disable=s.quiet or not info.is_main, file=sys.stderr, delay=2.0)
    items, start, saved_step = 0, time.perf_counter(), -1
    batches = trainer.batches()
    try:
        while trainer.step < trainer.total_steps and not any_rank(stop.requested, info,
                                                                  trainer.device):
            values = trainer.take_step(next(batches))
            losses.append(values)
            items += s.items_per_step * info.world_size
            if on_step is not None:
                on_step(trainer.step, values)
            if trainer.step % max(1, s.log_every) == 0 or trainer.step == trainer.total_steps:
                rate = items / max(1e-9, time.perf_counter() - start)
                bar.set_postfix({k: f"{v:.3g}" for k, v in values.items()}
                                | {s.rate_unit: f"{rate:.1f}"}, refresh=False)
            bar.update(1)
            if s.checkpoint_every and trainer.step % s.checkpoint_every == 0:
                trainer.save()
                saved_step = trainer.step
    finally:
        bar.close()
    if saved_step != trainer.step:
        trainer.save()
    return losses, items


def fit(trainer: Steppable, settings: LoopSettings, saved: Optional[dict[str, Any]],
        paths: tuple[Path, Path], log: Callable[[str], None],
        on_step: Optional[OnStep] = None) -> TrainResult:
    """Run ``trainer`` to its ``total_steps``: restore ``saved`` (a checkpoint read by the
    pipeline, or None), step under :class:`StopOnSignal`, checkpoint, leave the process group.

    Args:
        paths: ``(model file, checkpoint)`` as the result reports them.
        log: Rank 0's messages (the other ranks' are dropped).
        on_step: Called on every process after each step with ``(step, loss terms)``.
    """
    main_log = log if trainer.dist.is_main else (lambda m: None)
    if saved is not None:
        trainer.restore(saved, paths[1])
        main_log(f"resumed from {paths[1]} at step {trainer.step}")
    if trainer.step >= trainer.total_steps:
        main_log(f"already trained for {trainer.step} steps (target {trainer.total_steps})")
    start = time.perf_counter()
    with StopOnSignal(main_log) as stop:
        losses, items = run_steps(trainer, stop, settings, on_step)
    elapsed = time.perf_counter() - start
    finish_distributed(trainer.dist)
    return TrainResult(step=trainer.step, losses=losses, model_path=paths[0],
                       checkpoint_path=paths[1], interrupted=stop.requested,
                       items_per_second=items / max(elapsed, 1e-9),
                       total_steps=trainer.total_steps, seconds=elapsed, rank=trainer.dist.rank)


def open_run(out: str | Path, checkpoint: str | Path, protected: list[Path], resume: bool,
             load: Callable[[Path], dict],
             resumable: Callable[[dict, Path], None]) -> Optional[dict[str, Any]]:
    """Check a run's output paths and the checkpoint's presence before any work; with
    ``resume``, read the checkpoint with ``load`` (the pipeline's reader), check its settings
    with ``resumable(saved_settings, path)`` (raises when they forbid the resume) and return
    it.

    Raises:
        ValueError: an output that cannot be written or would overwrite a file in
            ``protected``; ``resume`` without a checkpoint; a checkpoint without ``resume``.
    """
    ckpt = Path(checkpoint)
    check_output_path(out, [*protected, ckpt], what="out")
    check_output_path(ckpt, protected, what="checkpoint")
    if resume and not ckpt.exists():
        raise ValueError(f"resume is set but there is no checkpoint at {ckpt}")
    if not resume and ckpt.exists():
        raise ValueError(f"a checkpoint already exists at {ckpt}: set resume to continue that "
                         "run, or delete it to start afresh")
    if not resume:
        return None
    saved = load(ckpt)
    resumable(saved["config"], ckpt)
    return saved



def train_run(c: Any, make_trainer: Callable[..., Steppable], load: Callable[[Path], dict],
              resumable: Callable[[dict, Any, Path], None], rate_unit: str,
              log: Optional[Callable[[str], None]] = None,
              on_step: Optional[OnStep] = None) -> TrainResult:
    """A pipeline's ``train``, for a resolved config ``c`` (its ``out``, ``checkpoint``,
    ``styles``, ``resume``, ``device``, ``batch_size``, ``checkpoint_every``, ``log_every`` and
    ``quiet``): check the files and read the checkpoint to resume (:func:`open_run`, with the
    pipeline's ``load`` and ``resumable(saved, c, path)``) before any work, join the process
    group, build ``make_trainer(c, dist_info, device, log)`` (rank 0 alone logs) and
    :func:`fit` it; the throughput is reported in ``rate_unit``."""
    saved = open_run(c.out, c.checkpoint, [Path(s) for s in c.styles], c.resume, load,
                     lambda settings, path: resumable(settings, c, path))
    dist_info, device = init_distributed(c.device)
    say = log or default_log
    trainer = make_trainer(c, dist_info, device, say if dist_info.is_main else (lambda m: None))
    trainer.net.train()
    settings = LoopSettings(items_per_step=int(c.batch_size), rate_unit=rate_unit,
                            checkpoint_every=c.checkpoint_every, log_every=c.log_every,
                            quiet=c.quiet)
    return fit(trainer, settings, saved, (Path(c.out), Path(c.checkpoint)), say, on_step)


__all__ = ["DistInfo", "LoopSettings", "ResumableSampler", "Steppable", "StopOnSignal",
           "TrainResult", "any_rank", "batches_per_epoch", "default_log", "epoch_batches",
           "finish_distributed", "fit", "init_distributed", "noise_generator", "open_run",
           "rng_states", "run_steps", "set_rng_states", "train_run", "update"]
