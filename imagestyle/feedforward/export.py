"""Exporting trained generators to TorchScript or ONNX, verified against PyTorch.

The exported program keeps the "any input size" property (TorchScript by scripting; ONNX with
dynamic batch, height and width). Its inputs:

* Johnson transform net: ``image (B, 3, H, W)`` RGB in [0, 1] -> ``(B, 3, H, W)``.
* Texture net, stylise mode: ``image (B, 3, H, W)`` and ``noise (B, K*n, H, W)`` standard normal
  (TorchScript: ``noise`` may be omitted and is then drawn inside).
* Texture net, texture mode: ``noise (B, K*n, H, W)`` -> ``(B, 3, H, W)``.

Outputs are not clamped (clamp to [0, 1] before display). After writing, the file is loaded back
and run on test inputs of odd sizes (not multiples of any stride; one below the network's
minimum size) next to the PyTorch model; the export fails, leaving no file, if they differ by more
than a tolerance. ONNX export uses the ``torch.export``-based exporter (needs ``onnxscript``);
the older TorchScript-based one bakes the padding branch of the example size into the graph.
"""

from __future__ import annotations

import contextlib
import io
import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import torch
from torch import Tensor, nn

from shared import atomic_path
from shared.export import export_target, finish_onnx, largest_difference

from .modelfile import ModelInfo, load_model
from .networks import TextureNet

TOLERANCE = 1e-4  # max absolute difference accepted, outputs being images in [0, 1]


class StylizeTextureNet(nn.Module):
    """A stylise-mode :class:`TextureNet` as ``forward(image, noise=None)`` (noise drawn inside
    when omitted)."""

    def __init__(self, net: TextureNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, image: Tensor, noise: Optional[Tensor] = None) -> Tensor:
        if noise is None:
            b, h, w = image.shape[0], image.shape[2], image.shape[3]
            noise = torch.randn([b, self.net.scales * self.net.noise_channels, h, w],
                                device=image.device, dtype=image.dtype)
        return self.net(noise, image)


class SampleTextureNet(nn.Module):
    """A texture-mode :class:`TextureNet` as ``forward(noise)``."""

    def __init__(self, net: TextureNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, noise: Tensor) -> Tensor:
        return self.net(noise, None)


@dataclass
class ExportReport:
    """What :func:`export_model` did."""

    path: Path  # the written file
    format: str  # "torchscript" or "onnx"
    max_abs_diff: float  # largest difference from PyTorch over the test inputs
    test_shapes: tuple[tuple[int, ...], ...]  # shapes of the test images / noise
    inputs: tuple[str, ...]  # the exported program's input names


def _exportable(net: nn.Module) -> tuple[nn.Module, tuple[str, ...]]:
    if isinstance(net, TextureNet):
        if net.stylize_mode:
            return StylizeTextureNet(net).eval(), ("image", "noise")
        return SampleTextureNet(net).eval(), ("noise",)
    return net.eval(), ("image",)


def _test_inputs(net: nn.Module, names: tuple[str, ...], h: int, w: int) -> tuple[Tensor, ...]:
    g = torch.Generator().manual_seed(1234)
    args = []
    for name in names:
        if name == "image":
            args.append(torch.rand(1, 3, h, w, generator=g))
        else:
            assert isinstance(net, (StylizeTextureNet, SampleTextureNet))
            args.append(torch.randn(net.net.noise_shape(1, h, w), generator=g))
    return tuple(args)


def _metadata(info: ModelInfo, names: tuple[str, ...]) -> str:
    return json.dumps({"arch": info.arch, "mode": info.mode, "network": info.network,
                       "inputs": list(names), "step": info.step}, sort_keys=True)


def _export_torchscript(module: nn.Module, tmp: Path, meta: str,
                        tests: list[tuple[Tensor, ...]]) -> list[Tensor]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit is deprecated in favour of torch.export
        scripted = torch.jit.script(module)
        torch.jit.save(scripted, str(tmp), _extra_files={"styletoolkit.json": meta})
        loaded = torch.jit.load(str(tmp), map_location="cpu")
    with torch.inference_mode():
        return [loaded(*args) for args in tests]


def _export_onnx(module: nn.Module, tmp: Path, names: tuple[str, ...],
                 tests: list[tuple[Tensor, ...]], meta: str) -> list[Tensor]:
    example = _test_inputs(module, names, 64, 64)
    batch, height, width = (torch.export.Dim("batch"), torch.export.Dim("height", min=1),
                            torch.export.Dim("width", min=1))
    shapes = tuple({0: batch, 2: height, 3: width} for _ in names)
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        program = torch.onnx.export(module, example, input_names=list(names),
                                    output_names=["output"], dynamic_shapes=shapes, dynamo=True,
                                    verbose=False)
        program.save(str(tmp))
    session = finish_onnx(tmp, meta)
    outputs = []
    for args in tests:
        feeds = {n: a.numpy() for n, a in zip(names, args)}
        try:
            outputs.append(torch.from_numpy(session.run(None, feeds)[0]))
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own exception types
            raise ValueError(f"export check failed: onnxruntime cannot run the exported model on a "
                             f"{tuple(args[0].shape)} input ({' '.join(str(exc).split())[:200]}); "
                             "nothing written") from None
    return outputs


def export_model(model: str | Path, fmt: str, output: str | Path, *,
                 test_sizes: tuple[tuple[int, int], ...] = ((75, 53), (9, 14))) -> ExportReport:
    """Export a model file to ``fmt`` and verify it against PyTorch.

    Args:
        model: A model file (or checkpoint) written by training.
        fmt: ``"torchscript"`` or ``"onnx"``.
        output: Destination file (written atomically, only once verified).
        test_sizes: ``(H, W)`` of the verification inputs: sizes that are not multiples of the
            strides, and one smaller than the network's minimum, exercise the padding.

    Raises:
        FileNotFoundError: a missing model file.
        ValueError: unknown format, bad model file, an output that cannot be written or would
            overwrite the model, missing ONNX packages, or a mismatch.
    """
    out = export_target(model, fmt, output)
    net, info = load_model(model, "cpu")
    module, names = _exportable(net)
    tests = [_test_inputs(module, names, h, w) for h, w in test_sizes]
    with torch.inference_mode():
        expected = [module(*args) for args in tests]
    meta = _metadata(info, names)
    with atomic_path(out) as tmp:
        if fmt == "torchscript":
            outputs = _export_torchscript(module, tmp, meta, tests)
        else:
            outputs = _export_onnx(module, tmp, names, tests, meta)
        worst = largest_difference(outputs, expected, TOLERANCE)
    return ExportReport(path=out, format=fmt, max_abs_diff=worst,
                        test_shapes=tuple(tuple(t[0].shape) for t in tests), inputs=names)
