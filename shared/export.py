"""What exporting a trained network to TorchScript or ONNX shares across the pipelines: the
ONNX packages' check, the ONNX file's finishing (checked, metadata added, loaded in
onnxruntime) and the comparison with PyTorch that decides whether the file is kept."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any, Sequence

from torch import Tensor

ONNX_INSTALL_HINT = "pip install 'styletoolkit[onnx]' (or: pip install onnx onnxruntime onnxscript)"


def check_onnx_available() -> None:
    """Raise ``ValueError`` naming the install command when the ONNX packages are missing."""
    missing = [m for m in ("onnx", "onnxruntime", "onnxscript")
               if importlib.util.find_spec(m) is None]
    if missing:
        raise ValueError(f"ONNX export needs {' and '.join(missing)}, which are not installed; "
                         f"install them with: {ONNX_INSTALL_HINT}")


FORMATS = ("torchscript", "onnx")


def export_target(model: str | Path, fmt: str, output: str | Path) -> Path:
    """Check an export's format (and, for ONNX, its packages) and its output path (not the
    model) before any work; returns the output path."""
    from .io import check_output_path

    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; choose torchscript or onnx")
    if fmt == "onnx":
        check_onnx_available()
    return check_output_path(output, [model])


def finish_onnx(path: Path, meta: str) -> Any:
    """Check the ONNX file at ``path``, store ``meta`` as its ``styletoolkit`` property, and
    return an onnxruntime session of it (CPU)."""
    import onnx
    import onnxruntime

    model = onnx.load(str(path))
    onnx.checker.check_model(model)
    entry = model.metadata_props.add()
    entry.key, entry.value = "styletoolkit", meta
    onnx.save(model, str(path))
    return onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def largest_difference(got: Sequence[Tensor], want: Sequence[Tensor], tolerance: float) -> float:
    """The largest absolute difference of the exported program's outputs from PyTorch's;
    ``ValueError`` ("nothing written") on a shape mismatch or one above ``tolerance``."""
    worst = 0.0
    for g, w in zip(got, want):
        if g.shape != w.shape:
            raise ValueError(f"export check failed: the exported model's output has shape "
                             f"{tuple(g.shape)}, PyTorch's {tuple(w.shape)}; nothing written")
        worst = max(worst, float((g.float() - w.float()).abs().max()))
    if not worst <= tolerance:
        raise ValueError(f"export check failed: the exported model differs from PyTorch by "
                         f"{worst:.3g} (> {tolerance:g}); nothing written")
    return worst


__all__ = ["FORMATS", "ONNX_INSTALL_HINT", "export_target", "check_onnx_available", "finish_onnx", "largest_difference"]
