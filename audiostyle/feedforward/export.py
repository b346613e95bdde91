"""Exporting trained audio networks to TorchScript or ONNX, verified against PyTorch.

What is exported is the network over frames, with a dynamic batch and frame count:

* a stylisation model: ``log_mag (B, F, T)`` = ``log1p|X|`` of the content's frames ->
  ``(B, 3F, T)`` (``(B, 4F, T)`` with ``noise_part``), which the host turns into the result's
  frames as :func:`~.render.frames_of` does; with ``level_frames`` in the metadata, the host
  first scales each content frame as :func:`~.render.level_gains` does, to the RMS ``level``;
  with ``noise_input`` ``K`` the input is ``log_mag_noise (B, F + K, T)``, the
  :func:`~.render.frame_noise` of the frames' absolute indices after the log magnitudes;
  with ``envelope`` in the network settings, the host scales each result frame to the
  content frame's RMS as :func:`~.render.envelope_gains` does;
* a texture model: ``noise (B, K, T)`` standard normal -> ``(B, 2F, T)``, each bin's log
  magnitude and phase advance, which the host turns into frames as
  :func:`~.render.frames_of` does.

The frames are :class:`~.networks.FrameCodec`'s (causal: frame ``m`` covers samples
``[m * hop - (n_fft - hop), m * hop + hop)``, periodic Hann window, overlap-add divided by the
windows' summed squares), and the metadata (``styletoolkit.json`` in TorchScript, the
``styletoolkit`` property in ONNX) records ``n_fft``, ``hop``, the rate and the mode, so a host
can frame and resynthesise as :mod:`.render` does. After writing, the file is loaded back and
run on test inputs of two lengths beside PyTorch; the export fails, leaving no file, if they
differ by more than :data:`TOLERANCE`.
"""

from __future__ import annotations

import contextlib
import io
import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from shared import atomic_path
from shared.export import export_target, finish_onnx, largest_difference

from .modelfile import ModelInfo, load_model
from .networks import Streamable

TOLERANCE = 1e-4  # largest absolute difference accepted (log magnitudes, STFT values)
TEST_FRAMES = (37, 5)  # lengths of the verification inputs (one shorter than the field)


@dataclass
class ExportReport:
    """What :func:`export_model` did."""

    path: Path
    format: str
    max_abs_diff: float  # largest difference from PyTorch over the test inputs
    test_shapes: tuple[tuple[int, ...], ...]
    inputs: tuple[str, ...]


def _test_inputs(net: Streamable, frames: int) -> Tensor:
    g = torch.Generator().manual_seed(1234)
    if net.mode == "stylize":
        log_mag = torch.rand(1, net.codec.bins, frames, generator=g) * 3.0
        noise = torch.randn(1, net.config.noise_input, frames, generator=g)
        return torch.cat([log_mag, noise], dim=1)
    return torch.randn(1, net.config.noise_channels, frames, generator=g)


def _metadata(net: Streamable, info: ModelInfo, name: str) -> str:
    level = getattr(net, "level", None)
    return json.dumps({"pipeline": "audiostyle", "mode": info.mode, "arch": info.arch,
                       "sample_rate": info.sample_rate, "n_fft": info.network["n_fft"],
                       "hop": info.network["hop"], "network": info.network, "input": name,
                       "frames": "causal; see audiostyle.feedforward.networks.FrameCodec",
                       "level": None if level is None else float(level),
                       "step": info.step}, sort_keys=True)


def _torchscript(net: Streamable, tmp: Path, meta: str, tests: list[Tensor]) -> list[Tensor]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit is deprecated in favour of torch.export
        traced = torch.jit.trace(net, (tests[0],), check_trace=False)
        torch.jit.save(traced, str(tmp), _extra_files={"styletoolkit.json": meta})
        loaded = torch.jit.load(str(tmp), map_location="cpu")
    with torch.inference_mode():
        return [loaded(t) for t in tests]


def _onnx(net: Streamable, tmp: Path, name: str, meta: str, tests: list[Tensor]) -> list[Tensor]:
    shapes = ({0: torch.export.Dim("batch"), 2: torch.export.Dim("frames", min=2)},)
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        program = torch.onnx.export(net, (tests[0],), input_names=[name],
                                    output_names=["output"], dynamic_shapes=shapes, dynamo=True,
                                    verbose=False)
        program.save(str(tmp))
    session = finish_onnx(tmp, meta)
    return [torch.from_numpy(session.run(None, {name: t.numpy()})[0]) for t in tests]


def export_model(model: str | Path, fmt: str, output: str | Path) -> ExportReport:
    """Export an audio model file to ``fmt`` and verify it against PyTorch.

    Raises:
        FileNotFoundError: a missing model file.
        ValueError: an unknown format, a bad model file, an output that cannot be written or
            would overwrite the model, missing ONNX packages, or a mismatch.
    """
    out = export_target(model, fmt, output)
    net, info = load_model(model, "cpu")
    name = "noise" if net.mode == "texture" else \
        "log_mag_noise" if net.config.noise_input else "log_mag"
    tests = [_test_inputs(net, t) for t in TEST_FRAMES]
    with torch.inference_mode():
        expected = [net(t) for t in tests]
    meta = _metadata(net, info, name)
    with atomic_path(out) as tmp:
        got = _torchscript(net, tmp, meta, tests) if fmt == "torchscript" else \
            _onnx(net, tmp, name, meta, tests)
        worst = largest_difference(got, expected, TOLERANCE)
    return ExportReport(out, fmt, worst, tuple(tuple(t.shape) for t in tests), (name,))


__all__ = ["ExportReport", "TOLERANCE", "export_model"]
