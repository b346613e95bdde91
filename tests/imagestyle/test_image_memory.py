"""Memory estimates of image runs (imagestyle.memory): a size that cannot fit is refused
before any image is resized, and the estimates come within 1.5x of the measured peaks."""

from __future__ import annotations

import textwrap

import pytest
import torch

from helpers.peaks import estimate_and_peak

from imagestyle.gatys import GatysConfig, stylize


def test_random_multiscale_at_a_typo_size_is_refused_before_the_images_are_resized(
        monkeypatch) -> None:
    def never(*args, **kwargs):
        raise AssertionError("an image was resized")

    monkeypatch.setattr("imagestyle.gatys._prepare_styles", never)
    image = torch.rand(1, 3, 32, 32)
    cfg = GatysConfig(model="random-multiscale", size=100000, quiet=True)
    with pytest.raises(ValueError, match=r"^100000x100000 needs about .* size \d+ would fit"):
        stylize(image, [image], cfg)


GATYS = textwrap.dedent("""
    import torch
    from imagestyle.gatys import GatysConfig, stylize, _check_fits
    import imagestyle.gatys as gatys
    seen = {{}}
    gatys.check_memory = lambda *a, **k: seen.setdefault("bytes", __import__(
        "imagestyle.memory", fromlist=["x"]).estimate_bytes(*a[:3], **{{
        n: v for n, v in k.items() if n != "available"}}))
    g = torch.Generator().manual_seed(0)
    content, style = torch.rand(1, 3, {h}, {w}, generator=g), torch.rand(1, 3, {h}, {w}, generator=g)
    cfg = GatysConfig(model={model!r}, size={w}, iterations=3, quiet=True, **{extra!r})
    _check_fits(cfg, False, [style], ({w}, {h}))
    estimate = seen["bytes"]
""")

STYLIZE = textwrap.dedent("""
    import torch
    from imagestyle.feedforward.networks import build_network, run_generator
    import imagestyle.memory as memory
    net = build_network("johnson", {{}}).eval()
    seen = {{}}
    memory.check_fits = lambda e, d, w: seen.setdefault("bytes", e.total())
    per_pixel = memory.per_pixel_floats([net], lambda s: run_generator(
        net, torch.zeros(1, 3, s, s), generator=torch.Generator()))
    memory.check_generator(per_pixel, sum(p.numel() for p in net.parameters()), {side} ** 2, 1,
                           torch.device("cpu"), "x", (), training=False)
    estimate = seen["bytes"]
    x = torch.rand(1, 3, {side}, {side})
""")


TRAIN = textwrap.dedent("""
    import atexit, os, shutil, tempfile
    import numpy as np
    from PIL import Image
    import imagestyle.memory as memory
    from imagestyle.feedforward.train import TrainConfig, train
    d = tempfile.mkdtemp()
    atexit.register(shutil.rmtree, d, True)  # the process's files go with it
    os.makedirs(d + "/photos")
    rng = np.random.default_rng(0)
    for i in range(4):
        Image.fromarray((rng.random((160, 160, 3)) * 255).astype("uint8")).save(f"{{d}}/photos/{{i}}.png")
    Image.fromarray((rng.random((128, 128, 3)) * 255).astype("uint8")).save(d + "/style.png")
    seen = []
    real = memory.check_fits
    memory.check_fits = lambda e, dev, w: seen.append(e.total()) or real(e, dev, w)
    cfg = TrainConfig(styles=[d + "/style.png"], dataset=d + "/photos", out=d + "/m.pt",
                      arch="johnson", model={model!r}, weights="random", image_size={side},
                      batch_size=2, steps=2, workers=0, device="cpu", quiet=True)
""")


@pytest.mark.slow
@pytest.mark.parametrize("setup, run", [
    (TRAIN.format(model="vgg16", side=192), "train(cfg, log=lambda m: None); estimate = seen[0]"),
    (GATYS.format(model="vgg19", h=200, w=256, extra={"weights": "random"}),
     "stylize(content, [style], cfg)"),
    (GATYS.format(model="random-multiscale", h=200, w=256, extra={}),
     "stylize(content, [style], cfg)"),
    (STYLIZE.format(side=768), "with torch.no_grad(): run_generator(net, x, generator=torch.Generator())"),
], ids=["johnson training", "vgg19 transfer", "random-multiscale transfer", "johnson stylise"])
def test_the_estimate_is_within_1_5x_of_the_measured_peak(setup: str, run: str) -> None:
    est, peak = estimate_and_peak(setup, run)
    assert peak / 1.5 <= est <= 1.5 * peak, (est / 1e6, peak / 1e6)
