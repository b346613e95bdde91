"""Helpers shared by the feed-forward tests (importable from test modules and conftest)."""

from __future__ import annotations

from pathlib import Path

from imagestyle.feedforward.train import TrainConfig

TINY_LAYERS = {"model": "random-multiscale", "content_layers": ["scale5"],
               "style_layers": ["scale3", "scale5"]}


def tiny_config(tmp_path: Path, photo_dir: Path, style: Path, **overrides) -> TrainConfig:
    """Settings of a tiny CPU run: 32 px, batch 2, width 1/8, two random-filter scales."""
    settings = dict(styles=[str(style)], out=str(tmp_path / "model.pt"), dataset=str(photo_dir),
                    image_size=32, batch_size=2, steps=4, width=0.125, pyramid_scales=3, channels=4,
                    checkpoint_every=0, quiet=True, device="cpu", **TINY_LAYERS)
    settings.update(overrides)
    if settings.get("mode") == "texture":
        settings["content_layers"] = None
    return TrainConfig(**settings)


def tiny_cli_args(photo_dir: Path, style: Path, out: Path, *extra: str) -> list[str]:
    """``imagestyle train`` arguments of the same tiny run."""
    return ["train", str(style), "--dataset", str(photo_dir), "-o", str(out),
            "--image-size", "32", "--batch-size", "2", "--steps", "3", "--width", "0.125",
            "--features", "random-multiscale", "--content-layers", "scale5",
            "--style-layers", "scale3,scale5", "--device", "cpu", "--quiet", *extra]
