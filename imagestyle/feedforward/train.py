"""Training feed-forward generators with a perceptual loss (Johnson et al. 2016; Ulyanov et al. 2016).

:func:`train` is the entry point; the concerns it joins live beside it:

* :mod:`.config`: the settings (:class:`TrainConfig`), their defaults and validation, resume rules;
* :mod:`.trainer`: the generator, the loss and one step (:class:`Trainer`), checkpoints;
* :mod:`shared.training`: the loop both pipelines' trainers share (:func:`~shared.training.fit`:
  resume, Ctrl-C, checkpoints, the process group under ``torchrun``, the random state), and
  :mod:`shared.checkpoints`, the files' common handling.

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

from typing import Callable, Optional

from shared.training import (DistInfo, StopOnSignal, TrainResult, init_distributed,
                             noise_generator, rng_states, set_rng_states, train_run)

from .config import (DEFAULT_CONTENT_WEIGHT, DEFAULT_EPOCHS, DEFAULT_MODEL, DEFAULT_STYLE_WEIGHT,
                     DEFAULT_TEXTURE_STEPS, DEFAULT_TV_WEIGHT, RESUMABLE_CHANGES, TrainConfig,
                     check_resumable)
from .modelfile import load_checkpoint
from .trainer import Trainer

__all__ = ["DEFAULT_CONTENT_WEIGHT", "DEFAULT_EPOCHS", "DEFAULT_MODEL", "DEFAULT_STYLE_WEIGHT",
           "DEFAULT_TEXTURE_STEPS", "DEFAULT_TV_WEIGHT", "RESUMABLE_CHANGES", "DistInfo",
           "StopOnSignal", "TrainConfig", "TrainResult", "Trainer", "check_resumable",
           "init_distributed", "noise_generator", "rng_states", "set_rng_states", "train"]


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
    return train_run(config.resolved(), Trainer, load_checkpoint, check_resumable, "img/s",
                     log, on_step)
