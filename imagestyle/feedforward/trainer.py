"""The state of one training run and its step: :class:`Trainer`.

The trainer owns the generator (built by :func:`~imagestyle.feedforward.networks.build_network`,
the one build path, as loading a model file does), the loss network and the objective
(:class:`shared.StyleContentObjective`, content targets given per batch), the optimiser and the
data position; it writes and restores checkpoints. :func:`imagestyle.feedforward.train.train`
drives it through :func:`shared.training.fit`, the loop every pipeline's trainer shares.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import torch
from torch import Tensor, nn

from shared import (StyleContentObjective, autocast, retain_freed_memory,
                    seed_everything)
from shared.checkpoints import checkpoint_payload, restore_trainer, save_payload
from shared.training import (DistInfo, ResumableSampler, batches_per_epoch, epoch_batches,
                             noise_generator, update)

from ..features import build_extractor
from ..imageio import load_image
from ..memory import check_generator, per_pixel_floats
from .config import DEFAULT_EPOCHS, DEFAULT_TEXTURE_STEPS, TrainConfig
from .data import ImageFolderDataset
from .modelfile import CHECKPOINT_FORMAT, VERSION, model_payload
from .networks import TextureNet, build_network


class Trainer:
    """The state of one training run (a resolved :class:`TrainConfig`, on ``device``)."""

    def __init__(self, config: TrainConfig, dist_info: DistInfo, device: torch.device,
                 log: Callable[[str], None]) -> None:
        self.c = config
        self.dist = dist_info
        self.device = device
        self.log = log
        retain_freed_memory()  # every step allocates the same large buffers: reuse them
        # Cheap checks of the user's files first: the dataset, then the style images.
        self.dataset, self.sampler, self.per_epoch = self._open_dataset()
        seed_everything(config.seed)
        self.net = build_network(config.arch, config.network_config()).to(device)
        self.extractor = build_extractor(config.model or "", self.layers, weights=config.weights,
                                         seed=config.seed, device=device)
        self._check_memory()
        styles = [load_image(p, size=config.style_size) for p in config.styles]
        if device.type == "cuda":
            self.net = self.net.to(memory_format=torch.channels_last)
            self.extractor = self.extractor.to(memory_format=torch.channels_last)
        self.objective = self._objective(styles)
        self.train_net = self._parallel()
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=config.lr)
        self.total_steps = self._total_steps()
        self.step = 0
        self.epoch = 0
        self.batch_in_epoch = 0

    @property
    def layers(self) -> list[str]:
        """Every layer the loss reads."""
        return list(dict.fromkeys([*(self.c.content_layers or []), *(self.c.style_layers or [])]))

    # -- set-up --------------------------------------------------------------------------------
    def _check_memory(self) -> None:
        """Refuse a run whose steps (or style targets) will not fit in memory, before any."""
        c, net = self.c, self.net

        def step(side: int) -> None:  # the generator and the loss network on one image
            x = torch.zeros(1, 3, side, side, device=self.device)
            if isinstance(net, TextureNet):
                noise = torch.zeros(net.noise_shape(1, side, side), device=self.device)
                x = net(noise) if c.mode == "texture" else net(noise, x)
            else:
                x = net(x)
            self.extractor(x)

        params = sum(p.numel() for p in net.parameters())
        loss_params = sum(p.numel() for p in self.extractor.parameters()) + sum(
            b.numel() for b in self.extractor.buffers())
        check_generator(per_pixel_floats([net, self.extractor], step), params,
                        c.image_size ** 2, c.batch_size, self.device,
                        f"training at image_size {c.image_size} with batch_size {c.batch_size}",
                        ("image_size", "batch_size"), training=True, loss_params=loss_params)
        side = int(c.style_size or c.image_size)
        check_generator(per_pixel_floats([self.extractor], lambda s: self.extractor(
            torch.zeros(1, 3, s, s, device=self.device))), 0, side ** 2, 1, self.device,
            f"style images at style_size {side}", ("style_size",), training=False)

    def _open_dataset(self) -> tuple[Optional[ImageFolderDataset], Optional[ResumableSampler], int]:
        """The dataset, this process's sampler and the batches per epoch (none in texture mode)."""
        c, info = self.c, self.dist
        if c.mode != "stylize":
            return None, None, 0
        dataset = ImageFolderDataset(c.dataset, c.image_size, seed=c.seed,  # type: ignore[arg-type]
                                     log=info.is_main)
        per_epoch = batches_per_epoch(len(dataset), info.world_size, c.batch_size)
        if per_epoch == 0:
            raise ValueError(f"dataset {c.dataset} has {len(dataset)} readable images, fewer "
                             f"than one batch of {c.batch_size} per process; lower batch_size")
        return dataset, ResumableSampler(dataset, info.world_size, info.rank, c.seed), per_epoch

    def _objective(self, styles: list[Tensor]) -> StyleContentObjective:
        """The objective with the styles' Grams; content targets come with each batch."""
        c = self.c
        with torch.no_grad():
            style_feats = [{k: v.float() for k, v in self.extractor(s.to(self.device)).items()}
                           for s in styles]
        return StyleContentObjective.from_features(
            None, style_feats, content_layers=c.content_layers or [],
            style_layers=c.style_layers or [], gram_normalize="channels_positions",
            reduction="mean", content_weight=c.content_weight, style_weight=c.style_weight,
            tv_weight=c.tv_weight, content_layer_weights=c.content_layer_weights,
            style_layer_weights=c.style_layer_weights,
        ).to(self.device)

    def _parallel(self) -> nn.Module:
        """The module the step runs: the generator, or its DDP wrapper with several processes."""
        if self.dist.world_size == 1:
            return self.net
        if self.device.type == "cuda":
            self.net = nn.SyncBatchNorm.convert_sync_batchnorm(self.net)
        return nn.parallel.DistributedDataParallel(
            self.net, device_ids=[self.device.index] if self.device.type == "cuda" else None)

    def _total_steps(self) -> int:
        if self.c.steps is not None:
            return self.c.steps
        if self.c.mode == "texture":
            return DEFAULT_TEXTURE_STEPS
        return (self.c.epochs or DEFAULT_EPOCHS) * self.per_epoch

    # -- checkpoints ---------------------------------------------------------------------------
    def settings(self) -> dict[str, Any]:
        """The run's settings as checkpoints and model files store them."""
        return asdict(self.c)

    def save(self) -> None:
        """Write the checkpoint and the model file (rank 0; atomic)."""
        if not self.dist.is_main:
            return
        model = model_payload(self.net, self.c.arch, self.settings(), self.step)
        save_payload(checkpoint_payload(CHECKPOINT_FORMAT, VERSION, model, self.optimizer, self,
                                        self.settings()), self.c.checkpoint)  # type: ignore[arg-type]
        save_payload(model, self.c.out)

    def restore(self, data: dict[str, Any], path: Path) -> None:
        """Continue from a checkpoint read (and checked) by
        :func:`~imagestyle.feedforward.modelfile.load_checkpoint`."""
        restore_trainer(self, data, path)

    # -- data ----------------------------------------------------------------------------------
    def batches(self) -> Iterator[Optional[Tensor]]:
        """Content batches ``(B, 3, S, S)`` forever (``None`` in texture mode)."""
        if self.dataset is None or self.sampler is None:
            while True:
                yield None
        yield from epoch_batches(self.dataset, self.sampler, self, self.c.batch_size,
                                 self.c.workers, self.device)

    # -- one step ------------------------------------------------------------------------------
    def loss(self, content: Optional[Tensor]) -> tuple[Tensor, dict[str, float]]:
        """The objective on one batch: ``content`` ``(B, 3, S, S)``, or ``None`` (texture mode:
        noise only). Returns the total (with its graph) and the terms as floats."""
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

    def take_step(self, content: Optional[Tensor]) -> dict[str, float]:
        """One optimiser step on ``content`` (see :meth:`loss`); returns the loss terms.

        Raises:
            NonFiniteLossError: the loss is NaN or infinite (nothing is updated).
        """
        total, values = self.loss(content)
        update(self, total, "lower lr or the loss weights", content is not None)
        return values
