"""Training an audio network once per style: :func:`train`, the entry point.

The run is :func:`shared.training.fit` over an :class:`~.trainer.AudioTrainer`: the same loop,
resume, Ctrl-C, checkpoints, ``torchrun`` processes and random-state rules as the image
trainer (a resumed run matches an uninterrupted one bit for bit on one machine: the crops are
a function of ``(seed, epoch, index)``, the noise of ``(seed, rank, step)``).
"""

from __future__ import annotations

from typing import Callable, Optional

from shared.training import TrainResult, train_run

from .config import AudioTrainConfig, check_resumable
from .modelfile import load_checkpoint
from .trainer import AudioTrainer


def train(config: AudioTrainConfig, log: Optional[Callable[[str], None]] = None,
          on_step: Optional[Callable[[int, dict[str, float]], None]] = None) -> TrainResult:
    """Train an audio network as ``config`` says; write checkpoints and the model file.

    Args:
        config: The run's settings (the preset's sizes are filled in and checked here).
        log: Where rank 0's messages go (default: stderr, beside the progress bar).
        on_step: Called on every process after each step with ``(step, loss terms)``.

    Returns:
        :class:`shared.training.TrainResult` (``items_per_second``: crops a second). Ctrl-C or
        SIGTERM stops after the current step and writes a checkpoint and the model file
        (``interrupted=True``).

    Raises:
        ValueError: bad settings; a dataset folder that is empty or holds no readable audio;
            unreadable or too short styles; outputs that cannot be written or would overwrite
            a style; ``resume`` with no or an incompatible checkpoint, or a checkpoint
            without ``resume``; a run that will not fit in memory.
        FileNotFoundError: a missing dataset folder or style.
    """
    return train_run(config.resolved(), AudioTrainer, load_checkpoint, check_resumable,
                     "crops/s", log, on_step)


__all__ = ["AudioTrainConfig", "train"]
