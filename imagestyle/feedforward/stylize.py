"""Stylising images with trained generators: one forward pass per batch.

Stylisation works at any input size and keeps it; on CUDA it runs in bf16 with channels-last
memory (the output is returned as float32 in [0, 1]).
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Optional, Sequence

import torch
from torch import Tensor, nn

from shared import autocast, check_output_path
from shared.io import named_after

from ..color import restore_chrominance
from ..imageio import SAVE_FORMATS, check_size, load_image, save_image, target_size
from ..memory import check_generator, per_pixel_floats
from .modelfile import ModelInfo, load_model
from .networks import run_generator


def inference_context(device: torch.device) -> contextlib.ExitStack:
    """Inference mode, in bf16 on CUDA (:func:`shared.autocast`)."""
    stack = contextlib.ExitStack()
    stack.enter_context(torch.inference_mode())
    stack.enter_context(autocast(device, "bf16"))
    return stack


def prepare_for_device(net: nn.Module, device: torch.device) -> nn.Module:
    """Move a generator to ``device`` in eval mode (channels-last on CUDA)."""
    net = net.to(device).eval()
    if device.type == "cuda":
        net = net.to(memory_format=torch.channels_last)
    return net


def stylize_batch(net: nn.Module, images: Tensor, *, preserve_color: Optional[str] = None,
                  generator: Optional[torch.Generator] = None) -> Tensor:
    """Stylise a batch of same-size images.

    Args:
        net: A stylisation generator (:class:`TransformNet` or a stylise-mode :class:`TextureNet`)
            on the images' device.
        images: ``(B, 3, H, W)`` RGB in [0, 1].
        preserve_color: ``None`` or ``"luminance"`` (keep the content's chrominance; Gatys et al.
            2016, "Preserving colour in neural artistic style transfer").
        generator: Noise source for texture-net stylisation (CPU generator).

    Returns:
        ``(B, 3, H, W)`` float32 in [0, 1], on the images' device.
    """
    if images.dim() != 4 or images.shape[1] != 3:
        raise ValueError(f"images must be (B, 3, H, W), got {tuple(images.shape)}")
    if preserve_color not in (None, "luminance"):
        raise ValueError(f"preserve_color must be None or 'luminance', got {preserve_color!r}")
    device = images.device
    with inference_context(device):
        x = images.contiguous(memory_format=torch.channels_last) if device.type == "cuda" else images
        out = run_generator(net, x, generator=generator).float().clamp(0, 1)
    out = out.contiguous()
    if preserve_color == "luminance":
        out = restore_chrominance(out, images.float())
    return out


def stylize_images(net: nn.Module, images: Sequence[Tensor], *, batch_size: int = 4,
                   preserve_color: Optional[str] = None, seed: int = 0) -> list[Tensor]:
    """Stylise images of any sizes, batching those of equal size.

    Args:
        net: A stylisation generator on the device the images should be processed on.
        images: ``(1, 3, H_i, W_i)`` tensors in [0, 1] (any device).
        batch_size: Images per forward pass.
        preserve_color: ``None`` or ``"luminance"``.
        seed: Seed of the noise of texture-net stylisation.

    Returns:
        One ``(1, 3, H_i, W_i)`` CPU float tensor per input, in input order.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    device = next(net.parameters()).device
    generator = torch.Generator().manual_seed(seed)
    results: list[Optional[Tensor]] = [None] * len(images)
    by_size: dict[tuple[int, int], list[int]] = {}
    for i, img in enumerate(images):
        by_size.setdefault(tuple(img.shape[-2:]), []).append(i)  # type: ignore[arg-type]
    for indices in by_size.values():
        for start in range(0, len(indices), batch_size):
            chunk = indices[start:start + batch_size]
            batch = torch.cat([images[i] for i in chunk]).to(device)  # (b, 3, H, W)
            out = stylize_batch(net, batch, preserve_color=preserve_color, generator=generator).cpu()
            for j, i in enumerate(chunk):
                results[i] = out[j:j + 1]
    return results  # type: ignore[return-value]


def load_generator(path: str | Path, device: torch.device, want: str) -> tuple[nn.Module, ModelInfo]:
    """Load a model file and check it is a ``want`` (``"stylize"`` or ``"texture"``) model."""
    net, info = load_model(path, device)
    if info.mode != want:
        if want == "stylize":
            raise ValueError(f"{path} is a texture model (it samples textures from noise, no "
                             "content); sample textures with it instead")
        raise ValueError(f"{path} is a stylisation model (it needs a content image); stylise "
                         "images with it instead")
    return prepare_for_device(net, device), info


def output_paths(inputs: Sequence[Path], output: Path) -> list[Path]:
    """Where each stylised input goes: ``output`` itself for one input, else files in the
    folder ``output`` named after the inputs (made unique when stems collide)."""
    if len(inputs) == 1 and not output.is_dir():
        return [output]
    return named_after(inputs, output, SAVE_FORMATS, ".png")


def check_readable(path: Path) -> None:
    """Raise ``ValueError`` unless ``path`` is a file whose image header Pillow recognises (cheap: the
    pixels are not decoded), so that bad inputs are reported before any output is written."""
    from PIL import Image, UnidentifiedImageError

    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    if not path.is_file():
        raise ValueError(f"{path}: is not a file")
    try:
        with Image.open(path):
            pass
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise ValueError(f"{path}: not an image Pillow can read") from None


def _check_memory(net: nn.Module, in_paths: Sequence[Path],
                  size: Optional[int | tuple[int, int]], batch: int, device: torch.device) -> None:
    """Refuse inputs whose stylisation will not fit in memory (the largest, ``batch`` at a
    time), before any is read (their headers give their sizes)."""
    from PIL import Image

    def pixels(p: Path) -> int:
        with Image.open(p) as img:
            w, h = img.size if size is None else target_size(img.size, size)
        return w * h

    per_pixel = per_pixel_floats([net], lambda side: run_generator(
        net, torch.zeros(1, 3, side, side, device=device), generator=torch.Generator()))
    largest = max(pixels(p) for p in in_paths)
    check_generator(per_pixel, sum(p.numel() for p in net.parameters()), largest, batch, device,
                    f"stylising {largest / 1e6:.3g} Mpixel images {batch} at a time",
                    ("size", "batch_size"), training=False)


class StylizeInterrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`stylize_files`: the images in :attr:`written` are complete (every
    write is atomic), the others were not written."""

    def __init__(self, written: list[Path]) -> None:
        super().__init__(f"interrupted after writing {len(written)} image(s)")
        self.written = written


def _check_outputs(model: Path, in_paths: list[Path], out: Path) -> None:
    """Raise ``ValueError`` unless ``out`` can take the results of ``in_paths`` (a file for one
    input, a folder for several) without overwriting an input or the model."""
    protected = [*in_paths, model]
    if len(in_paths) > 1 or out.is_dir():
        if out.exists() and not out.is_dir():
            raise ValueError(f"output {out}: several inputs need an output folder, and {out} is "
                             "a file")
        if not out.exists():
            if out.suffix.lower() in SAVE_FORMATS:
                raise ValueError(f"output {out}: several inputs need an output folder, not an "
                                 "image file name")
            check_output_path(out)  # the folder it is made in exists
        return
    if out.suffix.lower() not in SAVE_FORMATS:
        raise ValueError(f"output {out}: unsupported image extension {out.suffix!r}; use one "
                         f"of {', '.join(sorted(SAVE_FORMATS))}")
    check_output_path(out, protected)


def stylize_files(model: str | Path, inputs: Sequence[str | Path], output: str | Path, *,
                  size: Optional[int | tuple[int, int]] = None, preserve_color: Optional[str] = None,
                  batch_size: int = 4, device: torch.device | str = "cpu", seed: int = 0,
                  progress: bool = False) -> list[Path]:
    """Stylise image files with a model file; write the results atomically.

    ``output`` is a file for one input and a folder (made if missing) for several. The model,
    every input's header and every output path are checked before anything is written; images
    are then read, stylised and written ``batch_size`` at a time, so any number of inputs fits in
    memory. ``size``: ``None`` keeps each input's size; ``N`` resizes each so its longest side
    is N (its aspect kept); ``(W, H)`` to exactly W x H
    (:func:`~imagestyle.imageio.target_size`). ``progress`` shows a progress bar (after 2 s).

    Returns:
        The paths written.

    Raises:
        FileNotFoundError: a missing model or input file.
        ValueError: a bad model or input file or ``size``, or an output that cannot be written
            or would overwrite an input or the model.
        StylizeInterrupted: Ctrl-C; the images written so far are complete and listed.
    """
    device = torch.device(device)
    if size is not None:
        check_size(size)
    in_paths = [Path(p) for p in inputs]
    if not in_paths:
        raise ValueError("inputs must name at least one image")
    out = Path(output)
    _check_outputs(Path(model), in_paths, out)
    net, _ = load_generator(model, device, "stylize")
    for p in in_paths:
        check_readable(p)
    _check_memory(net, in_paths, size, min(batch_size, len(in_paths)), device)
    targets = output_paths(in_paths, out)
    if out.is_dir():  # files in an existing folder might be inputs (a new folder holds none)
        for t in targets:
            check_output_path(t, [*in_paths, Path(model)])
    if len(in_paths) > 1:
        out.mkdir(exist_ok=True)
    written: list[Path] = []
    try:
        _stylize_in_chunks(net, in_paths, targets, written, size=size, batch_size=batch_size,
                           preserve_color=preserve_color, seed=seed, progress=progress)
    except KeyboardInterrupt:
        raise StylizeInterrupted(written) from None
    return targets


def _stylize_in_chunks(net: nn.Module, in_paths: Sequence[Path], targets: Sequence[Path],
                       written: list[Path], *, size: Optional[int | tuple[int, int]],
                       batch_size: int, preserve_color: Optional[str], seed: int,
                       progress: bool) -> None:
    """Read, stylise and write ``batch_size`` images at a time, appending each file written to
    ``written``; the noise seed of texture-net models advances by one per chunk."""
    from tqdm import tqdm

    with tqdm(total=len(in_paths), unit="image", desc="stylize", disable=not progress,
              delay=2.0, dynamic_ncols=True, leave=False, file=sys.stderr) as bar:
        for k, start in enumerate(range(0, len(in_paths), batch_size)):
            chunk = range(start, min(len(in_paths), start + batch_size))
            images = [load_image(in_paths[i], size=size) for i in chunk]
            results = stylize_images(net, images, batch_size=batch_size,
                                     preserve_color=preserve_color, seed=seed + k)
            for image, i in zip(results, chunk):
                save_image(image, targets[i])
                written.append(targets[i])
                bar.update(1)
