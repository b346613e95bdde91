"""Training feed-forward generators with a perceptual loss (Johnson et al. 2016; Ulyanov et al. 2016).

The loss is the shared objective, :class:`shared.StyleContentObjective`, as the optimisation
methods use it: style Grams of the style image(s) are computed once, and the content term
compares the generated batch's features with the content batch's own, given with each call
(``objective(features, image=..., content_targets=...)``).

Reproducibility and resume: the model is initialised from ``seed``; the data order is a
function of ``(seed, epoch)``, the crops of ``(seed, epoch, index)``, and the noise of a step of
``(seed, rank, step)``. A checkpoint therefore needs only the weights, the optimiser, the step and
the data position to continue exactly (the global RNG states are saved and restored too), so a
resumed run matches an uninterrupted one with the same seed bit for bit on the same machine.

Multi-process: under ``torchrun`` (``WORLD_SIZE > 1``) the generator is wrapped in
:class:`~torch.nn.parallel.DistributedDataParallel` (NCCL on CUDA, gloo on CPU), each process reads
its shard through a distributed sampler, and only rank 0 writes checkpoints, model files and logs.
"""

from __future__ import annotations

import dataclasses
import os
import random
import signal
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor, nn

from shared import (NonFiniteLossError, StyleContentObjective, autocast, check_output_path,
                    seed_everything, select_device)

from ..features import DEFAULT_LAYERS, build_extractor
from ..imageio import load_image, target_size
from .data import ImageFolderDataset, ResumableSampler, batches_per_epoch
from .modelfile import (CHECKPOINT_FORMAT, VERSION, load_checkpoint, model_payload, save_payload)
from .networks import TextureNet, build_network

# Default loss weights of pytorch/examples' fast_neural_style (Gram / (C*H*W), mean squared
# errors, VGG on ImageNet-normalised [0, 1] input), which reproduce Johnson et al.'s results.
DEFAULT_CONTENT_WEIGHT = 1e5
DEFAULT_STYLE_WEIGHT = 1e10
DEFAULT_TV_WEIGHT = 0.0
DEFAULT_MODEL = {"johnson": "vgg16", "texture-net": "vgg19"}
DEFAULT_TEXTURE_STEPS = 2000
DEFAULT_EPOCHS = 2

# Settings a resumed run may change; every other field must match the checkpoint's.
RESUMABLE_CHANGES = frozenset({"steps", "epochs", "checkpoint_every", "workers", "device", "quiet",
                               "out", "checkpoint", "log_every"})


@dataclass
class TrainConfig:
    """Everything that defines a training run (stored in checkpoints and model files)."""

    styles: list[str]  # style image paths (several are blended with equal weights)
    out: str  # model file written at every checkpoint and at the end
    arch: str = "johnson"  # "johnson" (transform net) or "texture-net" (Ulyanov pyramid)
    mode: str = "stylize"  # "stylize" (content + style) or "texture" (texture-net only: noise)
    dataset: Optional[str] = None  # folder of training images (stylize mode)
    image_size: int = 256  # side of the square training crops (paper: 256)
    style_size: Optional[int] = None  # longest side of the style images (default: image_size)
    batch_size: int = 4  # images per step per process (paper: 4)
    steps: Optional[int] = None  # total optimiser steps (default: epochs, or 2000 in texture mode)
    epochs: Optional[int] = None  # passes over the dataset (default 2, as in the paper)
    lr: float = 1e-3  # Adam learning rate (both papers)
    content_weight: float = DEFAULT_CONTENT_WEIGHT  # weight of the content term
    style_weight: float = DEFAULT_STYLE_WEIGHT  # weight of the style term
    tv_weight: float = DEFAULT_TV_WEIGHT  # weight of the total-variation term
    content_layers: Optional[list[str]] = None  # default: the feature model's content layers
    style_layers: Optional[list[str]] = None  # default: the feature model's style layers
    content_layer_weights: Optional[dict[str, float]] = None  # per content layer (default 1)
    style_layer_weights: Optional[dict[str, float]] = None  # per style layer (default 1)
    model: Optional[str] = None  # loss network: vgg16 (johnson default), vgg19, random-multiscale
    weights: str = "imagenet"  # VGG weights: imagenet, random or a .pth path
    norm: Optional[str] = None  # generator norm: instance / batch (default: the arch's)
    width: float = 1.0  # johnson: channel multiplier
    scales: int = 6  # texture-net: pyramid levels
    channels: int = 8  # texture-net: channels per scale
    checkpoint: Optional[str] = None  # checkpoint path (default: OUT + ".ckpt")
    checkpoint_every: int = 1000  # steps between checkpoints (0: only at the end)
    seed: int = 0  # seed of the initial weights, data order, crops and noise
    device: str = "auto"  # auto, cpu, cuda, cuda:N
    workers: int = 0  # data-loader worker processes
    quiet: bool = False  # no progress bar
    log_every: int = 10  # steps between progress-bar refreshes of the loss terms
    resume: bool = False  # continue from the checkpoint

    def resolved(self) -> "TrainConfig":
        """A copy with every default filled in and every value checked (raises ``ValueError``
        naming the field)."""
        c = dataclasses.replace(self)
        if c.arch not in DEFAULT_MODEL:
            raise ValueError(f"arch must be johnson or texture-net, got {c.arch!r}")
        if c.mode not in ("stylize", "texture"):
            raise ValueError(f"mode must be stylize or texture, got {c.mode!r}")
        if c.arch == "johnson" and c.mode == "texture":
            raise ValueError("mode texture needs arch texture-net (the transform net stylises)")
        if not c.styles:
            raise ValueError("styles is empty: give at least one style image")
        if c.mode == "stylize" and not c.dataset:
            raise ValueError("mode stylize trains on photos: give dataset, a folder of images")
        if c.mode == "texture" and c.epochs is not None:
            raise ValueError("mode texture has no dataset, hence no epochs: give steps")
        if c.steps is not None and c.epochs is not None:
            raise ValueError("give steps or epochs, not both")
        for name in ("image_size", "batch_size"):
            if getattr(c, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(c, name)}")
        for name in ("steps", "epochs"):
            if getattr(c, name) is not None and getattr(c, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(c, name)}")
        if not (c.lr > 0):
            raise ValueError(f"lr must be positive, got {c.lr}")
        for name in ("content_weight", "style_weight", "tv_weight"):
            v = getattr(c, name)
            if not (v >= 0) or v == float("inf"):
                raise ValueError(f"{name} must be finite and >= 0, got {v}")
        for name in ("checkpoint_every", "workers"):
            if getattr(c, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(c, name)}")
        c.model = c.model or DEFAULT_MODEL[c.arch]
        c.norm = c.norm or ("instance" if c.arch == "johnson" else "batch")
        c.style_size = c.style_size or c.image_size
        if c.mode == "texture":
            c.content_layers = []
            c.content_layer_weights = None
        defaults = DEFAULT_LAYERS.get(c.model)
        if c.content_layers is None or c.style_layers is None:
            if defaults is None:
                raise ValueError(f"no default layers known for model {c.model!r}; give "
                                 "content_layers and style_layers")
            if c.content_layers is None:
                # Ulyanov et al. use relu4_2 with VGG-19 and Johnson et al. relu3_3 with VGG-16.
                c.content_layers = list(defaults.content)
            if c.style_layers is None and c.model == "random-multiscale":
                c.style_layers = _multiscale_layers(c.styles, c.style_size, c.image_size)
            if c.style_layers is None:
                c.style_layers = list(defaults.style)
        if not c.style_layers:
            raise ValueError("style_layers is empty")
        for what, weights, names in (("content", c.content_layer_weights, c.content_layers),
                                     ("style", c.style_layer_weights, c.style_layers)):
            extra = sorted(set(weights or {}) - set(names))
            if extra:
                raise ValueError(f"{what}_layer_weights name layers that are not {what}_layers: "
                                 f"{', '.join(extra)}")
            if any(not (w >= 0 and w != float("inf")) for w in (weights or {}).values()):
                raise ValueError(f"{what}_layer_weights must be finite and >= 0, got {weights}")
        c.checkpoint = c.checkpoint or f"{c.out}.ckpt"
        c.styles = [str(s) for s in c.styles]
        return c

    def network_config(self) -> dict[str, Any]:
        """The generator's architecture settings, as model files store them."""
        if self.arch == "johnson":
            return {"norm": self.norm or "instance", "width": self.width}
        return {"mode": self.mode, "scales": self.scales, "channels": self.channels,
                "norm": self.norm or "batch"}

    def network(self) -> nn.Module:
        """A freshly initialised generator for this configuration (through
        :func:`~imagestyle.feedforward.networks.build_network`, as loading a model file does)."""
        return build_network(self.arch, self.network_config())


def _multiscale_layers(styles: list[str], style_size: int, image_size: int) -> Optional[list[str]]:
    """Default random-multiscale style layers: the scales no wider than a quarter of the smallest
    image they are matched on (:func:`imagestyle.gatys.multiscale_style_layers`), so that the
    generator learns the texture rather than a copy of the style image. ``None`` if a style
    image's header cannot be read (loading it reports the error)."""
    from PIL import Image

    from ..gatys import multiscale_style_layers

    short = image_size
    for path in styles:
        try:
            with Image.open(path) as img:
                w, h = img.size
        except (OSError, ValueError, SyntaxError):
            return None
        short = min(short, *target_size((w, h), style_size))
    return multiscale_style_layers(short)


@dataclass
class DistInfo:
    """Where this process sits in a (possibly single-process) run."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed(device_spec: str) -> tuple[DistInfo, torch.device]:
    """Join the process group when launched by torchrun (``WORLD_SIZE > 1``); pick the device.

    NCCL with one GPU per process (``cuda:LOCAL_RANK``) on CUDA, gloo on the CPU.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo(), select_device(device_spec)
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = select_device(device_spec)
    if device.type == "cuda":
        device = torch.device("cuda", local_rank % torch.cuda.device_count())
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return DistInfo(rank, world, local_rank), device


def noise_generator(seed: int, rank: int, step: int) -> torch.Generator:
    """The CPU generator of the noise of one step: a pure function of ``(seed, rank, step)``."""
    state = np.random.SeedSequence([seed, rank, step]).generate_state(2, dtype=np.uint32)
    return torch.Generator().manual_seed(int(state[0]) << 32 | int(state[1]))


def rng_states() -> dict[str, Any]:
    """The global RNG states (Python, NumPy, torch CPU and CUDA) as tensors and plain values."""
    np_state = np.random.get_state()
    states: dict[str, Any] = {
        "python": repr(random.getstate()),
        "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), int(np_state[2]),
                  int(np_state[3]), float(np_state[4])],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def set_rng_states(states: dict[str, Any]) -> None:
    """Restore what :func:`rng_states` saved (missing entries are left alone)."""
    import ast

    if "python" in states:
        random.setstate(ast.literal_eval(states["python"]))
    if "numpy" in states:
        name, keys, pos, has_gauss, cached = states["numpy"]
        np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    if "torch" in states:
        torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available() and len(states["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(states["cuda"])


def check_resumable(saved: dict[str, Any], current: TrainConfig, path: Path) -> None:
    """Raise ``ValueError`` if ``current`` differs from ``saved`` in a setting that shapes
    training."""
    now = asdict(current)
    diffs = [f"{k} {saved.get(k)!r} -> {now[k]!r}" for k in now
             if k not in RESUMABLE_CHANGES and k != "resume" and saved.get(k) != now[k]]
    if diffs:
        raise ValueError(f"the settings differ from those of checkpoint {path}: "
                         f"{'; '.join(diffs[:4])}{' ...' if len(diffs) > 4 else ''}; "
                         "use the same settings, or start a new run")


@dataclass
class TrainResult:
    """What :func:`train` reports."""

    step: int  # steps done in total (including resumed ones)
    losses: list[dict[str, float]]  # per-step loss terms of this invocation (rank 0's batch)
    model_path: Path  # the model file
    checkpoint_path: Path  # the last checkpoint
    interrupted: bool = False  # stopped by Ctrl-C (after writing a checkpoint)
    images_per_second: float = 0.0  # training throughput of this invocation, all processes


class _Trainer:
    """The state of one training run; :func:`train` drives it."""

    def __init__(self, config: TrainConfig, dist_info: DistInfo, device: torch.device,
                 log: Callable[[str], None]) -> None:
        self.c = config
        self.dist = dist_info
        self.device = device
        self.log = log
        c = config
        # Cheap checks of the user's files first: the dataset, then the style images.
        self.dataset: Optional[ImageFolderDataset] = None
        self.sampler: Optional[ResumableSampler] = None
        self.per_epoch = 0
        if c.mode == "stylize":
            self.dataset = ImageFolderDataset(c.dataset, c.image_size, seed=c.seed,  # type: ignore[arg-type]
                                              log=dist_info.is_main)
            self.per_epoch = batches_per_epoch(len(self.dataset), dist_info.world_size, c.batch_size)
            if self.per_epoch == 0:
                raise ValueError(f"dataset {c.dataset} has {len(self.dataset)} readable images, "
                                 f"fewer than one batch of {c.batch_size} per process; lower "
                                 "batch_size")
            self.sampler = ResumableSampler(self.dataset, dist_info.world_size, dist_info.rank, c.seed)
        styles = [load_image(p, size=c.style_size) for p in c.styles]
        seed_everything(c.seed)
        self.net = c.network().to(device)
        if device.type == "cuda":
            self.net = self.net.to(memory_format=torch.channels_last)
        self.layers = list(dict.fromkeys(list(c.content_layers or []) + list(c.style_layers or [])))
        self.extractor = build_extractor(c.model, self.layers, weights=c.weights, seed=c.seed,
                                         device=device)
        if device.type == "cuda":
            self.extractor = self.extractor.to(memory_format=torch.channels_last)
        with torch.no_grad():
            style_feats = [{k: v.float() for k, v in self.extractor(s.to(device)).items()}
                           for s in styles]
        self.objective = StyleContentObjective.from_features(
            None, style_feats, content_layers=c.content_layers, style_layers=c.style_layers,
            gram_normalize="channels_positions", reduction="mean",
            content_weight=c.content_weight, style_weight=c.style_weight,
            tv_weight=c.tv_weight, content_layer_weights=c.content_layer_weights,
            style_layer_weights=c.style_layer_weights,
        ).to(device)  # content targets: each batch's own features, given per call
        self.train_net: nn.Module = self.net
        if dist_info.world_size > 1:
            if device.type == "cuda":
                self.net = nn.SyncBatchNorm.convert_sync_batchnorm(self.net)
            self.train_net = nn.parallel.DistributedDataParallel(
                self.net, device_ids=[device.index] if device.type == "cuda" else None)
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=c.lr)
        if c.steps is not None:
            self.total_steps = c.steps
        elif c.mode == "texture":
            self.total_steps = DEFAULT_TEXTURE_STEPS
        else:
            self.total_steps = (c.epochs or DEFAULT_EPOCHS) * self.per_epoch
        self.step = 0
        self.epoch = 0
        self.batch_in_epoch = 0

    # -- checkpoints ---------------------------------------------------------------------------
    def settings(self) -> dict[str, Any]:
        return asdict(self.c)

    def save(self) -> None:
        """Write the checkpoint and the model file (rank 0; atomic)."""
        if not self.dist.is_main:
            return
        model = model_payload(self.net, self.c.arch, self.settings(), self.step)
        save_payload({
            "format": CHECKPOINT_FORMAT,
            "version": VERSION,
            "model": model,
            "optimizer": self.optimizer.state_dict(),
            "step": self.step,
            "epoch": self.epoch,
            "batch_in_epoch": self.batch_in_epoch,
            "world_size": self.dist.world_size,
            "rng": rng_states(),
            "config": self.settings(),
        }, self.c.checkpoint)  # type: ignore[arg-type]
        save_payload(model, self.c.out)

    def restore(self, data: dict[str, Any], path: Path) -> None:
        """Continue from a checkpoint read (and checked) by :func:`load_checkpoint`."""
        if int(data.get("world_size", 1)) != self.dist.world_size:
            raise ValueError(f"checkpoint {path} was written by {data.get('world_size')} "
                             f"process(es), this run has {self.dist.world_size}; resume it with "
                             "the same number")
        self.net.load_state_dict(data["model"]["state_dict"])
        self.optimizer.load_state_dict(data["optimizer"])
        self.step = int(data["step"])
        self.epoch = int(data["epoch"])
        self.batch_in_epoch = int(data["batch_in_epoch"])
        set_rng_states(data.get("rng", {}))

    # -- data ----------------------------------------------------------------------------------
    def batches(self) -> Iterator[Optional[Tensor]]:
        """Content batches ``(B, 3, S, S)`` forever (``None`` in texture mode)."""
        if self.dataset is None or self.sampler is None:
            while True:
                yield None
        while True:
            self.dataset.set_epoch(self.epoch)
            self.sampler.set_epoch(self.epoch)
            self.sampler.set_start(self.batch_in_epoch * self.c.batch_size)
            loader = torch.utils.data.DataLoader(
                self.dataset, batch_size=self.c.batch_size, sampler=self.sampler, drop_last=True,
                num_workers=self.c.workers, pin_memory=self.device.type == "cuda",
                persistent_workers=False,
            )
            yield from loader  # the training loop advances batch_in_epoch
            self.epoch += 1
            self.batch_in_epoch = 0

    # -- one step ------------------------------------------------------------------------------
    def loss(self, content: Optional[Tensor]) -> tuple[Tensor, dict[str, float]]:
        c = self.c
        gen = noise_generator(c.seed, self.dist.rank, self.step)
        memory = torch.channels_last if self.device.type == "cuda" else torch.contiguous_format
        with autocast(self.device, "bf16"):
            if content is not None:
                content = content.to(self.device, non_blocking=True).contiguous(memory_format=memory)
                out = self._generate(content, gen)
            else:
                b, s = c.batch_size, c.image_size
                assert isinstance(self.net, TextureNet)
                noise = torch.randn(self.net.noise_shape(b, s, s), generator=gen).to(self.device)
                out = self.train_net(noise)
            feats = {k: v.float() for k, v in self.extractor(out).items()}
            targets = None
            if content is not None and c.content_layers:
                with torch.no_grad():
                    targets = {k: v.float() for k, v in self.extractor(content).items()}
            terms = self.objective(feats, image=out.float(), content_targets=targets)
        return terms.total, terms.floats()

    def _generate(self, content: Tensor, gen: torch.Generator) -> Tensor:
        if isinstance(self.net, TextureNet):
            b, _, h, w = content.shape
            noise = torch.randn(self.net.noise_shape(b, h, w), generator=gen).to(content)
            return self.train_net(noise, content)
        return self.train_net(content)


class StopOnSignal:
    """Turn the first Ctrl-C (SIGINT) or SIGTERM into a request to stop after the current step.

    The training loop then writes a checkpoint and returns. A second Ctrl-C aborts at once
    (``KeyboardInterrupt``); the last checkpoint is intact because every write is atomic.
    Outside the main thread (where handlers cannot be installed) signals behave as usual.
    """

    def __init__(self, log: Callable[[str], None]) -> None:
        self.requested = False
        self.log = log
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.requested = True
        self.log("stopping after this step and writing a checkpoint (Ctrl-C again to abort)")

    def __enter__(self) -> "StopOnSignal":
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self._previous[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread
                pass
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def _any_rank(flag: bool, info: DistInfo, device: torch.device) -> bool:
    """True if ``flag`` is set on any process (so all processes stop at the same step)."""
    if info.world_size == 1:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)


def _default_log(message: str) -> None:
    from tqdm import tqdm

    tqdm.write(message, file=sys.stderr)


def train(config: TrainConfig, log: Optional[Callable[[str], None]] = None,
          on_step: Optional[Callable[[int, dict[str, float]], None]] = None) -> TrainResult:
    """Train a generator as ``config`` says; write checkpoints and the model file.

    Args:
        config: The run's settings (defaults are filled in and checked here).
        log: Where rank 0's messages go (default: stderr, beside the progress bar).
        on_step: Called on every process after each step with ``(step, loss terms)``
            (tests use it to interrupt a run).

    Returns:
        :class:`TrainResult`. A Ctrl-C or SIGTERM stops the run after the current step, writes a
        checkpoint and returns with ``interrupted=True`` (see :class:`StopOnSignal`).

    Raises:
        ValueError: bad settings, an image-less dataset, unreadable style images, outputs that
            cannot be written or would overwrite a style image, ``resume`` with no or an
            incompatible checkpoint, an existing checkpoint without ``resume``.
        FileNotFoundError: a missing dataset folder or style image.
    """
    from tqdm import tqdm

    c = config.resolved()
    out = Path(c.out)
    ckpt = Path(c.checkpoint)  # type: ignore[arg-type]
    check_output_path(out, [*c.styles, ckpt], what="out")
    check_output_path(ckpt, c.styles, what="checkpoint")
    if c.resume and not ckpt.exists():
        raise ValueError(f"resume is set but there is no checkpoint at {ckpt}")
    if not c.resume and ckpt.exists():
        raise ValueError(f"a checkpoint already exists at {ckpt}: set resume to continue that "
                         "run, or delete it to start afresh")

    saved = None
    if c.resume:  # check the checkpoint before the slower dataset scan and model building
        saved = load_checkpoint(ckpt)
        check_resumable(saved["config"], c, ckpt)

    dist_info, device = init_distributed(c.device)
    say = log or _default_log
    log_main = (lambda m: say(m)) if dist_info.is_main else (lambda m: None)
    trainer = _Trainer(c, dist_info, device, log_main)
    if saved is not None:
        trainer.restore(saved, ckpt)
        log_main(f"resumed from {ckpt} at step {trainer.step}")
    if trainer.step >= trainer.total_steps:
        log_main(f"already trained for {trainer.step} steps (target {trainer.total_steps})")
    trainer.net.train()
    losses: list[dict[str, float]] = []
    bar = tqdm(total=trainer.total_steps, initial=trainer.step, unit="step", dynamic_ncols=True,
               disable=c.quiet or not dist_info.is_main, file=sys.stderr)
    images = 0
    start = time.perf_counter()
    batches = trainer.batches()
    saved_step = -1
    with StopOnSignal(log_main) as stop:
        try:
            while trainer.step < trainer.total_steps:
                if _any_rank(stop.requested, dist_info, device):
                    break
                content = next(batches)
                total, values = trainer.loss(content)
                if not torch.isfinite(total):
                    raise NonFiniteLossError(
                        f"the loss became {float(total.detach())} at step {trainer.step}; lower "
                        "lr or the loss weights, then resume from the last checkpoint",
                        iteration=trainer.step)
                trainer.optimizer.zero_grad(set_to_none=True)
                total.backward()
                trainer.optimizer.step()
                trainer.step += 1
                if content is not None:
                    trainer.batch_in_epoch += 1
                losses.append(values)
                images += c.batch_size * dist_info.world_size
                if on_step is not None:
                    on_step(trainer.step, values)
                if trainer.step % max(1, c.log_every) == 0 or trainer.step == trainer.total_steps:
                    rate = images / max(1e-9, time.perf_counter() - start)
                    bar.set_postfix({k: f"{v:.3g}" for k, v in values.items()} | {"img/s": f"{rate:.1f}"})
                bar.update(1)
                if c.checkpoint_every and trainer.step % c.checkpoint_every == 0:
                    trainer.save()
                    saved_step = trainer.step
        finally:
            bar.close()
        interrupted = stop.requested
    if saved_step != trainer.step:
        trainer.save()
    elapsed = time.perf_counter() - start
    if interrupted:
        log_main(f"interrupted at step {trainer.step}; checkpoint written to {ckpt} "
                 "(resume from it to continue)")
    else:
        log_main(f"trained {trainer.step} steps; model written to {out}")
    if dist_info.world_size > 1:
        dist.barrier()
        dist.destroy_process_group()
    return TrainResult(step=trainer.step, losses=losses, model_path=out, checkpoint_path=ckpt,
                       interrupted=interrupted, images_per_second=images / max(elapsed, 1e-9))
