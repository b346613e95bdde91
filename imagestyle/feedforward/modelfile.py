"""The model file of a trained feed-forward generator, and the training checkpoint.

A model file is a ``torch.save`` dict that records everything needed to use the network without
repeating a flag::

    {"format": "styletoolkit.feedforward.model", "version": 1,
     "arch": "johnson" | "texture-net", "mode": "stylize" | "texture",
     "network": {...architecture config...}, "state_dict": {...},
     "training": {...the full training settings...}, "step": int}

A checkpoint (``format = "styletoolkit.feedforward.checkpoint"``) holds a model payload plus the
optimiser, the step, the data position and the RNG states, to resume training from.

Files are read with ``torch.load(weights_only=True)`` (no arbitrary code runs on load) and
validated; anything that is not ours, truncated, or inconsistent raises ``ValueError`` naming
the file (``FileNotFoundError`` for a missing one).
Files are written atomically (:func:`shared.atomic_path`), so a crash never leaves half a file.
"""

from __future__ import annotations

import pickle
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import torch
from torch import nn

from shared import atomic_path, check_input_file

from .networks import ARCHS, build_network, generator_mode, network_config

MODEL_FORMAT = "styletoolkit.feedforward.model"
CHECKPOINT_FORMAT = "styletoolkit.feedforward.checkpoint"
VERSION = 1


@dataclass
class ModelInfo:
    """What a model file says about its network."""

    arch: str  # "johnson" or "texture-net"
    mode: str  # "stylize" or "texture"
    network: dict[str, Any]  # architecture config (TransformNetConfig / TextureNetConfig fields)
    training: dict[str, Any] = field(default_factory=dict)  # training settings (TrainConfig fields)
    step: int = 0  # training steps done


def model_payload(net: nn.Module, arch: str, training: Mapping[str, Any], step: int) -> dict:
    """The dict stored in a model file (CPU tensors)."""
    return {
        "format": MODEL_FORMAT,
        "version": VERSION,
        "arch": arch,
        "mode": generator_mode(net),
        "network": network_config(net),
        "state_dict": {k: v.detach().cpu().clone() for k, v in net.state_dict().items()},
        "training": dict(training),
        "step": int(step),
    }


def save_payload(payload: Mapping[str, Any], path: str | Path) -> Path:
    """Write a model or checkpoint dict atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(dict(payload), tmp)
    return path


def _read(path: str | Path, what: str) -> dict:
    path = check_input_file(path, f"a {what} file")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile, ValueError,
            OSError, AttributeError, ImportError, KeyError, IndexError) as exc:
        text = " ".join(str(exc).split())
        if "failed finding central directory" in text or "truncated" in text.lower() or isinstance(exc, EOFError):
            raise ValueError(f"{path}: truncated or damaged file; not a readable {what}") from None
        raise ValueError(f"{path}: not a styletoolkit {what} (not a PyTorch file of plain tensors "
                         "that this toolkit writes)") from None
    if not isinstance(data, dict) or "format" not in data:
        raise ValueError(f"{path}: not a styletoolkit feed-forward {what} (a foreign PyTorch file)")
    return data


def _check_version(data: Mapping[str, Any], path: Path) -> None:
    version = data.get("version")
    if not isinstance(version, int) or version > VERSION:
        raise ValueError(f"{path}: file format version {version!r} is newer than this "
                         f"toolkit's ({VERSION}); upgrade styletoolkit")


def _model_from_payload(data: Mapping[str, Any], path: Path) -> tuple[nn.Module, ModelInfo]:
    try:
        arch, network, state = data["arch"], data["network"], data["state_dict"]
    except KeyError as exc:
        raise ValueError(f"{path}: damaged model file (no {exc.args[0]!r} entry)") from None
    if arch not in ARCHS or not isinstance(network, dict) or not isinstance(state, dict):
        raise ValueError(f"{path}: damaged model file (architecture {arch!r} is not one of {ARCHS})")
    try:
        net = build_network(arch, network)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{path}: damaged model file (bad architecture settings: {exc})") from None
    try:
        net.load_state_dict(state)
    except RuntimeError as exc:
        first = " ".join(str(exc).split())[:200]
        raise ValueError(f"{path}: damaged model file (its tensors do not fit the architecture: {first})") from None
    info = ModelInfo(arch=arch, mode=generator_mode(net), network=dict(network),
                     training=dict(data.get("training") or {}), step=int(data.get("step", 0)))
    return net.eval(), info


def load_model(path: str | Path, device: torch.device | str = "cpu") -> tuple[nn.Module, ModelInfo]:
    """Read a model file (or a checkpoint, whose model is used) and rebuild the network.

    Returns:
        ``(network in eval mode on device, ModelInfo)``.

    Raises:
        FileNotFoundError: a missing file.
        ValueError: a foreign, truncated or inconsistent file.
    """
    path = Path(path)
    data = _read(path, "model")
    fmt = data.get("format")
    if fmt == CHECKPOINT_FORMAT:
        _check_version(data, path)
        model = data.get("model")
        if not isinstance(model, dict):
            raise ValueError(f"{path}: damaged checkpoint (no model entry)")
        data = model
        fmt = data.get("format")
    if fmt != MODEL_FORMAT:
        raise ValueError(f"{path}: not a styletoolkit feed-forward model (format {str(fmt)[:60]!r})")
    _check_version(data, path)
    net, info = _model_from_payload(data, path)
    return net.to(device), info


def load_checkpoint(path: str | Path) -> dict:
    """Read and validate a training checkpoint (CPU tensors).

    Raises:
        FileNotFoundError: a missing file.
        ValueError: a foreign or truncated file, or a model file given instead.
    """
    path = Path(path)
    data = _read(path, "checkpoint")
    if data.get("format") == MODEL_FORMAT:
        raise ValueError(f"{path}: is a model file, not a training checkpoint; it cannot be resumed")
    if data.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path}: not a styletoolkit training checkpoint")
    _check_version(data, path)
    for key in ("model", "optimizer", "step", "config", "epoch", "batch_in_epoch"):
        if key not in data:
            raise ValueError(f"{path}: damaged checkpoint (no {key!r} entry)")
    _model_from_payload(data["model"], path)  # validates the network and its weights
    return data
