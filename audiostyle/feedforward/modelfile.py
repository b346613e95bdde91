"""The model file of a trained audio network, and its training checkpoint.

A model file is a ``torch.save`` dict that records everything needed to use the network::

    {"format": "styletoolkit.audio.model", "version": 1,
     "arch": "transform" | "texture", "mode": "stylize" | "texture",
     "network": {...NetworkConfig...}, "sample_rate": int, "state_dict": {...},
     "training": {...AudioTrainConfig...}, "step": int}

A checkpoint (``"styletoolkit.audio.checkpoint"``) holds a model payload plus what resuming
needs (:func:`shared.checkpoints.checkpoint_payload`). Reading is
:func:`shared.checkpoints.read_payload` (no code runs on load), then the checks here: an image
model, a foreign or damaged file raise ``ValueError`` naming the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import torch

from shared.checkpoints import (check_checkpoint, check_version, read_payload,
                                refuse_other_pipeline)

from .networks import ARCHS, Streamable, build_network, network_settings

MODEL_FORMAT = "styletoolkit.audio.model"
CHECKPOINT_FORMAT = "styletoolkit.audio.checkpoint"
VERSION = 1


@dataclass
class ModelInfo:
    """What a model file says about its network."""

    arch: str  # "transform" or "texture"
    mode: str  # "stylize" or "texture"
    sample_rate: int  # the rate it works at (inputs are resampled to it)
    network: dict[str, Any]  # NetworkConfig fields
    training: dict[str, Any] = field(default_factory=dict)  # AudioTrainConfig fields
    step: int = 0  # training steps done


def model_payload(net: Streamable, sample_rate: int, training: Mapping[str, Any],
                  step: int) -> dict[str, Any]:
    """The dict stored in a model file (CPU tensors)."""
    return {"format": MODEL_FORMAT, "version": VERSION,
            "arch": "transform" if net.mode == "stylize" else "texture", "mode": net.mode,
            "network": network_settings(net), "sample_rate": int(sample_rate),
            "state_dict": {k: v.detach().cpu().clone() for k, v in net.state_dict().items()},
            "training": {k: list(v) if isinstance(v, tuple) else v for k, v in training.items()},
            "step": int(step)}


def _network(data: Mapping[str, Any], path: Path) -> tuple[Streamable, ModelInfo]:
    try:
        arch, network, state, rate = (data["arch"], data["network"], data["state_dict"],
                                      data["sample_rate"])
    except KeyError as exc:
        raise ValueError(f"{path}: damaged audio model file (no {exc.args[0]!r} entry)") from None
    if arch not in ARCHS or not isinstance(network, dict) or not isinstance(state, dict):
        raise ValueError(f"{path}: damaged audio model file (architecture {arch!r})")
    try:
        with torch.device("meta"):  # no random initialisation of weights about to be replaced
            net = build_network(arch, network)
        net.load_state_dict(state, assign=True)
        if any(t.is_meta for t in (*net.parameters(), *net.buffers())):
            raise ValueError("weights missing")
    except (TypeError, ValueError, RuntimeError) as exc:
        first = " ".join(str(exc).split())[:200]
        raise ValueError(f"{path}: damaged audio model file ({first})") from None
    info = ModelInfo(arch=arch, mode=net.mode, sample_rate=int(rate), network=dict(network),
                     training=dict(data.get("training") or {}), step=int(data.get("step", 0)))
    return net.eval(), info


def load_model(path: str | Path, device: torch.device | str = "cpu"
               ) -> tuple[Streamable, ModelInfo]:
    """Read a model file (or a checkpoint, whose model is used) and rebuild the network.

    Raises:
        FileNotFoundError: a missing file.
        ValueError: an image model, a foreign, truncated or inconsistent file.
    """
    path = Path(path)
    data = read_payload(path, "audio model")
    if data.get("format") == CHECKPOINT_FORMAT:
        check_version(data, path, VERSION)
        data = data.get("model") if isinstance(data.get("model"), dict) else {}
    fmt = data.get("format")
    if fmt != MODEL_FORMAT:
        refuse_other_pipeline(fmt, path, "audiostyle")
        raise ValueError(f"{path}: not a styletoolkit audio model (format {str(fmt)[:60]!r})")
    check_version(data, path, VERSION)
    net, info = _network(data, path)
    return net.to(device), info


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read and check a training checkpoint (CPU tensors).

    Raises:
        FileNotFoundError: a missing file.
        ValueError: a foreign or damaged file, or a model file given instead.
    """
    path = Path(path)
    data = read_payload(path, "audio checkpoint")
    if data.get("format") == MODEL_FORMAT:
        raise ValueError(f"{path}: is a model file, not a training checkpoint; it cannot be "
                         "resumed")
    if data.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path}: not a styletoolkit audio training checkpoint")
    check_version(data, path, VERSION)
    check_checkpoint(data, path)
    _network(data["model"], path)
    return data


__all__ = ["CHECKPOINT_FORMAT", "MODEL_FORMAT", "ModelInfo", "VERSION", "load_checkpoint",
           "load_model", "model_payload"]
