"""Model files and training checkpoints: the handling every pipeline's formats share.

A pipeline's model file and checkpoint are ``torch.save`` dicts with a ``"format"`` string of
its own (``"styletoolkit.feedforward.model"`` for images, ``"styletoolkit.audio.model"`` for
audio) and a ``"version"``. Files are read with ``torch.load(weights_only=True)`` (no arbitrary
code runs on load); anything that is not a plain dict of tensors and values, truncated or
damaged, raises ``ValueError`` naming the file. Files are written atomically
(:func:`shared.atomic_path`), so a crash never leaves half a file.

:func:`checkpoint_payload` is the checkpoint every trainer writes (model, optimiser, step, data
position, process count, RNG states, settings), :func:`check_resumable` the rule for continuing
one (the checks of a run's files before any work are :func:`shared.training.open_run`).
"""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path
from typing import Any, Collection, Mapping, Optional

import torch

from .io import atomic_path, check_input_file
from .training import rng_states, set_rng_states

# Each pipeline's format prefix -> the tool that uses its files.
PIPELINE_FORMATS = {"styletoolkit.feedforward.": "imagestyle", "styletoolkit.audio.": "audiostyle"}
CHECKPOINT_KEYS = ("model", "optimizer", "step", "config", "epoch", "batch_in_epoch")


def save_payload(payload: Mapping[str, Any], path: str | Path) -> Path:
    """Write a model or checkpoint dict atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(dict(payload), tmp)
    return path


def read_payload(path: str | Path, what: str) -> dict:
    """Read a toolkit file: a dict with a ``"format"`` entry (CPU tensors).

    Raises:
        FileNotFoundError: a missing file.
        ValueError: a truncated, damaged or foreign file (``what`` names what was expected).
    """
    path = check_input_file(path, f"a {what} file")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile, ValueError,
            OSError, AttributeError, ImportError, KeyError, IndexError) as exc:
        text = " ".join(str(exc).split())
        if "failed finding central directory" in text or "truncated" in text.lower() \
                or isinstance(exc, EOFError):
            raise ValueError(f"{path}: truncated or damaged file; not a readable {what}") from None
        raise ValueError(f"{path}: not a styletoolkit {what} (not a PyTorch file of plain tensors "
                         "that this toolkit writes)") from None
    if not isinstance(data, dict) or "format" not in data:
        raise ValueError(f"{path}: not a styletoolkit {what} (a foreign PyTorch file)")
    return data


def check_version(data: Mapping[str, Any], path: Path, version: int) -> None:
    """Refuse a file written by a newer toolkit (``version`` is this one's)."""
    found = data.get("version")
    if not isinstance(found, int) or found > version:
        raise ValueError(f"{path}: file format version {found!r} is newer than this "
                         f"toolkit's ({version}); upgrade styletoolkit")


def refuse_other_pipeline(fmt: object, path: Path, tool: str) -> None:
    """Raise ``ValueError`` naming the right tool when ``fmt`` is another pipeline's format
    (an image model given to ``audiostyle``, or an audio model to ``imagestyle``)."""
    for prefix, owner in PIPELINE_FORMATS.items():
        if isinstance(fmt, str) and fmt.startswith(prefix) and owner != tool:
            kind = "an image" if owner == "imagestyle" else "an audio"
            raise ValueError(f"{path}: is {kind} model; use it with {owner}, not {tool}")


def checkpoint_payload(fmt: str, version: int, model: Mapping[str, Any], optimizer: Any,
                       trainer: Any, config: Mapping[str, Any]) -> dict[str, Any]:
    """The checkpoint of a trainer (its ``step``, ``epoch``, ``batch_in_epoch``, ``dist``):
    the model payload, the optimiser's state, the data position and the RNG states."""
    return {"format": fmt, "version": version, "model": dict(model),
            "optimizer": optimizer.state_dict(), "step": trainer.step, "epoch": trainer.epoch,
            "batch_in_epoch": trainer.batch_in_epoch, "world_size": trainer.dist.world_size,
            "rng": rng_states(), "config": dict(config)}


def check_checkpoint(data: Mapping[str, Any], path: Path) -> None:
    """Refuse a checkpoint that lacks an entry a resume needs."""
    for key in CHECKPOINT_KEYS:
        if key not in data:
            raise ValueError(f"{path}: damaged checkpoint (no {key!r} entry)")


def check_world_size(data: Mapping[str, Any], path: Path, world_size: int) -> None:
    """Refuse to resume a checkpoint of another number of processes."""
    if int(data.get("world_size", 1)) != world_size:
        raise ValueError(f"checkpoint {path} was written by {data.get('world_size')} "
                         f"process(es), this run has {world_size}; resume it with the same number")


def restore_trainer(trainer: Any, data: Mapping[str, Any], path: Path) -> None:
    """Continue ``trainer`` (its ``net``, ``optimizer``, ``dist`` and data position) from a
    checkpoint its pipeline read and checked; the global RNGs as they were."""
    check_world_size(data, path, trainer.dist.world_size)
    trainer.net.load_state_dict(data["model"]["state_dict"])
    trainer.optimizer.load_state_dict(data["optimizer"])
    trainer.step, trainer.epoch = int(data["step"]), int(data["epoch"])
    trainer.batch_in_epoch = int(data["batch_in_epoch"])
    set_rng_states(data.get("rng", {}))


def check_resumable(saved: Mapping[str, Any], now: Mapping[str, Any], path: Path,
                    resumable: Collection[str],
                    renamed: Optional[Mapping[str, str]] = None) -> None:
    """Raise ``ValueError`` if the settings ``now`` differ from ``saved`` (a checkpoint's) in
    a setting not in ``resumable``; ``renamed`` maps old names in ``saved`` to today's."""
    saved = {(renamed or {}).get(k, k): v for k, v in saved.items()}
    diffs = [f"{k} {saved.get(k)!r} -> {now[k]!r}" for k in now
             if k not in resumable and k != "resume" and saved.get(k) != now[k]]
    if diffs:
        raise ValueError(f"the settings differ from those of checkpoint {path}: "
                         f"{'; '.join(diffs[:4])}{' ...' if len(diffs) > 4 else ''}; "
                         "use the same settings, or start a new run")


__all__ = ["CHECKPOINT_KEYS", "PIPELINE_FORMATS", "refuse_other_pipeline", "restore_trainer", "check_checkpoint", "check_resumable", "check_version",
           "check_world_size", "checkpoint_payload", "read_payload",
           "save_payload"]
