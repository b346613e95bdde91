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
Files are written atomically. The reading, writing and checks every pipeline's files share are
:mod:`shared.checkpoints`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import torch
from torch import nn

from shared.checkpoints import (check_checkpoint, check_version, read_payload,
                                refuse_other_pipeline, save_payload)

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


def _check_version(data: Mapping[str, Any], path: Path) -> None:
    check_version(data, path, VERSION)


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
    data = read_payload(path, "model")
    fmt = data.get("format")
    if fmt == CHECKPOINT_FORMAT:
        _check_version(data, path)
        model = data.get("model")
        if not isinstance(model, dict):
            raise ValueError(f"{path}: damaged checkpoint (no model entry)")
        data = model
        fmt = data.get("format")
    if fmt != MODEL_FORMAT:
        refuse_other_pipeline(fmt, path, "imagestyle")
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
    data = read_payload(path, "checkpoint")
    if data.get("format") == MODEL_FORMAT:
        raise ValueError(f"{path}: is a model file, not a training checkpoint; it cannot be resumed")
    if data.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path}: not a styletoolkit training checkpoint")
    _check_version(data, path)
    check_checkpoint(data, path)
    _model_from_payload(data["model"], path)  # validates the network and its weights
    return data
