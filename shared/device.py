"""Device selection, mixed precision and seeding."""

from __future__ import annotations

import contextlib
import random

import numpy as np
import torch


def select_device(spec: str | torch.device = "auto") -> torch.device:
    """Turn ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:i"`` into a usable ``torch.device``.

    ``"auto"`` picks CUDA when a GPU is present and the CPU otherwise. Asking for CUDA where
    there is none, or for a GPU index that does not exist, raises ``ValueError``.
    """
    if isinstance(spec, torch.device):
        spec = str(spec)
    spec = str(spec).strip().lower()
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(spec)
    except RuntimeError:
        raise ValueError(f"unknown device {spec!r}; use auto, cpu, cuda or cuda:N") from None
    if device.type == "cpu":
        return device
    if device.type != "cuda":
        raise ValueError(f"unsupported device {spec!r}; use auto, cpu, cuda or cuda:N")
    if not torch.cuda.is_available():
        raise ValueError(f"device {spec!r} was asked for but no CUDA GPU is available; use device cpu")
    count = torch.cuda.device_count()
    if device.index is not None and device.index >= count:
        raise ValueError(f"device {spec!r} does not exist: this machine has {count} CUDA device(s)")
    return device


PRECISIONS = ("fp32", "bf16")  # the toolkit's arithmetic choices


def compute_dtype(precision: str) -> torch.dtype:
    """The ``torch.dtype`` of ``precision``: ``"fp32"`` -> float32, ``"bf16"`` -> bfloat16.

    Raises ``ValueError`` (naming ``precision``) for anything else.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be 'bf16' or 'fp32', got {precision!r}")
    return torch.bfloat16 if precision == "bf16" else torch.float32


def autocast(device: torch.device, precision: str = "bf16") -> contextlib.AbstractContextManager:
    """The one mixed-precision context of the toolkit: bfloat16 autocast on CUDA when
    ``precision`` is ``"bf16"``; a no-op for ``"fp32"`` and on the CPU (where bf16 autocast is
    slower than float32 for these networks: it casts frozen weights again on every call; the
    Gatys feature networks keep bfloat16 weights instead, see
    :func:`imagestyle.features.build_extractor`).

    Raises ``ValueError`` for a ``precision`` other than ``"bf16"`` or ``"fp32"``.
    """
    compute_dtype(precision)  # validates
    if precision == "bf16" and torch.device(device).type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def native_bf16(device: torch.device) -> bool:
    """Whether bfloat16 arithmetic is native on ``device``: a CUDA GPU, or a CPU with
    AVX512-BF16 or AMX instructions (where oneDNN's bfloat16 convolutions run several times
    faster than float32's; elsewhere they are emulated, and slower)."""
    if torch.device(device).type == "cuda":
        return True
    cpu = torch.cpu
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(bool(getattr(cpu, name, lambda: False)()) for name in checks)


def resolve_precision(precision: str, device: torch.device) -> str:
    """``"auto"`` -> ``"bf16"`` where :func:`native_bf16` holds, else ``"fp32"``; ``"fp32"``
    and ``"bf16"`` as they are. Raises ``ValueError`` for anything else."""
    if precision not in ("auto",) + PRECISIONS:
        raise ValueError(f"precision must be auto, fp32 or bf16, got {precision!r}")
    if precision == "auto":
        return "bf16" if native_bf16(device) else "fp32"
    return precision


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python's, NumPy's and PyTorch's global generators (CPU and CUDA).

    Returns a CPU ``torch.Generator`` seeded with ``seed`` for code that takes one explicitly.
    """
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    return torch.Generator().manual_seed(seed)
