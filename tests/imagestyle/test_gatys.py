"""Gatys transfer and texture synthesis: the loss falls, levels, snapshots, validation."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch
from helpers.images import smooth_image, texture_image, vgg_state

import imagestyle.gatys as gatys
from imagestyle.gatys import GatysConfig, level_sizes, stylize, synthesize_texture, texture_config
from imagestyle.imageio import image_size
from imagestyle.memory import check_memory, estimate_bytes

FAST = dict(model="random-multiscale", quiet=True, check_memory=False)


def test_transfer_loss_falls_and_output_is_an_image() -> None:
    content, style = smooth_image(24, 32, seed=1), texture_image(32, 32, seed=2)
    result = stylize(content, [style], GatysConfig(size=32, iterations=8, **FAST))
    first = result.levels[0].history[0]
    assert result.loss < 0.5 * first["total"]
    assert set(first) == {"total", "content", "style", "tv"}
    assert result.image.shape == (1, 3, 24, 32)  # longest side 32, aspect kept
    assert 0 <= result.image.min() and result.image.max() <= 1


def test_same_seed_same_output() -> None:
    style = texture_image(24, 24, seed=3)
    cfg = texture_config(size=(20, 12), iterations=3, seed=7, **FAST)
    a = synthesize_texture([style], cfg).image
    b = synthesize_texture([style], cfg).image
    assert a.shape == (1, 3, 12, 20)  # texture size is (W, H)
    torch.testing.assert_close(a, b)


def test_texture_size_n_is_the_longest_side_with_the_first_styles_aspect() -> None:
    styles = [texture_image(20, 40, seed=3), texture_image(40, 20, seed=4)]  # (H, W)
    result = synthesize_texture(styles, texture_config(size=24, iterations=1, **FAST))
    assert image_size(result.image) == (24, 12)  # as the first style, 40 x 20 (W x H)


def test_texture_is_style_only_and_targets_are_computed_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[tuple[int, int]] = []
    build = gatys._build

    def counting_build(*args: object, **kwargs: object) -> torch.nn.Module:
        net = build(*args, **kwargs)  # type: ignore[arg-type]
        net.register_forward_pre_hook(lambda m, inp: calls.append(tuple(inp[0].shape[-2:])))
        return net

    monkeypatch.setattr(gatys, "_build", counting_build)
    styles = [texture_image(30, 30, seed=4), texture_image(30, 20, seed=5)]
    result = synthesize_texture(styles, texture_config(size=24, iterations=5, **FAST))
    res = result.levels[0]
    assert set(res.history[0]) == {"total", "style"}  # no content, no TV
    # One forward per style (targets, once) and one per loss evaluation; nothing else.
    assert len(calls) == len(styles) + res.evaluations


def test_coarse_to_fine_levels_and_snapshots() -> None:
    content, style = smooth_image(32, 32, seed=1), texture_image(32, 32, seed=2)
    seen: list[tuple[int, int, tuple[int, ...]]] = []
    result = stylize(content, [style], GatysConfig(size=48, scales=3, iterations=4, **FAST),
                     snapshot=lambda lv, it, img: seen.append((lv, it, tuple(img.shape))),
                     snapshot_every=2)
    assert result.sizes == [(16, 16), (24, 24), (48, 48)]
    assert [(lv, it) for lv, it, _ in seen] == [(lv, it) for lv in range(3) for it in (2, 4)]
    assert seen[-1][2] == (1, 3, 48, 48)
    assert len(result.levels) == 3
    assert level_sizes((64, 32), 3) == [(32, 16), (32, 16), (64, 32)]  # short side >= 16


def test_init_content_and_image() -> None:
    content, style = smooth_image(16, 16, seed=1), texture_image(16, 16, seed=2)
    zero = stylize(content, [style], GatysConfig(size=16, iterations=0, init="content", **FAST))
    torch.testing.assert_close(zero.image, content, atol=1e-6, rtol=0)
    init = smooth_image(8, 8, seed=3)
    start = stylize(content, [style], GatysConfig(size=16, iterations=0, init=init, **FAST))
    assert start.image.shape == (1, 3, 16, 16)
    assert not torch.allclose(start.image, zero.image)


def test_blend_weights_steer_the_texture() -> None:
    """Blend weights (1, 0) give exactly the first style alone; an even blend differs from it."""
    first, second = texture_image(24, 24, seed=3), texture_image(24, 24, seed=4).flip(-1) * 0.5
    cfg = texture_config(size=16, iterations=3, style_layers=["scale3", "scale5"], **FAST)

    def run(styles: list[torch.Tensor], weights: list[float] | None = None) -> torch.Tensor:
        return synthesize_texture(styles, replace(cfg, style_blend_weights=weights)).image

    alone = run([first])
    torch.testing.assert_close(run([first, second], [1.0, 0.0]), alone, atol=0, rtol=0)
    even = run([first, second], [1.0, 1.0])
    assert not torch.allclose(even, alone, atol=1e-3)
    assert not torch.allclose(run([first, second], [1.0, 3.0]), even, atol=1e-3)


def test_blend_weights_must_match_styles() -> None:
    content, style = smooth_image(16, 16, seed=1), texture_image(16, 16, seed=2)
    cfg = GatysConfig(size=16, iterations=1, style_blend_weights=[1.0], **FAST)
    with pytest.raises(ValueError, match="1 blend weights for 2 styles"):
        stylize(content, [style, style], cfg)


def test_unknown_layers_and_layer_weights() -> None:
    content, style = smooth_image(16, 16, seed=1), texture_image(16, 16, seed=2)
    with pytest.raises(ValueError, match="valid layers"):
        stylize(content, [style], GatysConfig(size=16, style_layers=["relu1_1"], **FAST))
    with pytest.raises(ValueError, match="not style_layers: scale7"):
        stylize(content, [style], GatysConfig(size=16, style_layers=["scale3"],
                                              style_layer_weights={"scale7": 2.0}, **FAST))


@pytest.mark.parametrize("bad", [dict(style_weight=-1.0), dict(scales=0), dict(iterations=-1),
                                 dict(init="sparkles"), dict(preserve_color="hue"),
                                 dict(style_scale=0.0)], ids=lambda bad: next(iter(bad)))
def test_bad_config_values(bad: dict) -> None:
    with pytest.raises(ValueError, match=f"^{next(iter(bad))} must be"):
        GatysConfig(**bad)  # type: ignore[arg-type]


def test_memory_check_refuses_and_suggests_a_size_that_fits() -> None:
    layers = ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu4_2", "relu5_1"]
    need = estimate_bytes("vgg19", layers, (512, 384))
    assert need > estimate_bytes("vgg19", layers, (256, 192)) * 3.5  # grows with the pixels
    assert need > estimate_bytes("vgg19", layers, (512, 384), optimizer="adam")
    free = need // 3
    with pytest.raises(ValueError) as info:
        check_memory("vgg19", layers, (512, 384), torch.device("cpu"), available=free)
    message = str(info.value)
    assert "512x384 needs about" in message and "would fit" in message
    assert "--" not in message  # parameter names only: the CLI turns them into flags
    fit = int(message.split("size ")[1].split()[0])
    assert 200 < fit < 512
    scale = fit / 512
    assert estimate_bytes("vgg19", layers, (fit, round(384 * scale))) <= free
    assert check_memory("vgg19", layers, (64, 48), torch.device("cpu")) > 0


def test_multiscale_default_layers_follow_the_style_size() -> None:
    assert gatys.multiscale_style_layers(128) == ["scale3", "scale5", "scale7", "scale11",
                                                  "scale15", "scale23"]
    assert gatys.multiscale_style_layers(512)[-1] == "scale55"
    assert gatys.multiscale_style_layers(8) == ["scale3", "scale5", "scale7"]


def test_feature_scale_follows_preprocessing(tmp_path: Path) -> None:
    assert gatys.feature_scale_for("vgg19", "torchvision") == pytest.approx(57.63)
    assert gatys.feature_scale_for("vgg19", "caffe") == 1.0
    assert gatys.feature_scale_for("random-multiscale", None) == pytest.approx(576.3)
    # The extractor's detected convention decides: a Caffe-named file gets Caffe's scale.
    path = tmp_path / "vgg16-00b39a1b.pth"
    torch.save(vgg_state("vgg16"), path)
    net = gatys._build(GatysConfig(model="vgg16", weights=str(path)), ["relu1_2"],
                       torch.device("cpu"))
    assert net.preprocess == "caffe"


def test_vgg_transfer_runs_with_random_weights() -> None:
    content, style = smooth_image(32, 32, seed=1), texture_image(32, 32, seed=2)
    cfg = GatysConfig(model="vgg16", weights="random", size=32, iterations=3, quiet=True,
                      optimizer="adam")
    result = stylize(content, [style, style], cfg)
    assert result.image.shape == (1, 3, 32, 32)
    assert result.levels[0].iterations == 3


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_transfer_on_cuda() -> None:
    content, style = smooth_image(32, 32, seed=1), texture_image(32, 32, seed=2)
    result = stylize(content, [style], GatysConfig(size=32, iterations=5, device="cuda", **FAST))
    assert result.image.device.type == "cpu" and result.loss < result.levels[0].history[0]["total"]


def test_objective_equals_neural_style_formulas_with_caffe_weights(tmp_path: Path) -> None:
    """With Caffe-converted weights the losses are jcjohnson/neural-style's, term by term:
    content 5 * MSE(relu4_2), style 100 * sum_l MSE(G_l / (C H W)), TV 1e-3/2 * sum of squared
    neighbour differences of the 0-255 image (its TVLoss gradient)."""
    from imagestyle.vgg import VGGFeatures, load_weights

    path = tmp_path / "vgg19-d01eb7cb.pth"
    torch.save(vgg_state("vgg19", seed=5), path)
    content, style = smooth_image(32, 32, seed=1), texture_image(32, 32, seed=2)
    init = smooth_image(32, 32, seed=9)
    cfg = GatysConfig(weights=str(path), size=32, iterations=1, init=init, quiet=True)
    got = stylize(content, [style], cfg).levels[0].history[0]

    state, pre = load_weights("vgg19", str(path))
    assert pre == "caffe"
    layers = ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu4_2", "relu5_1"]
    net = VGGFeatures("vgg19", layers, state, preprocess="caffe")
    with torch.no_grad():
        fx, fc, fs = net(init), net(content), net(style)

    def gram(f: torch.Tensor) -> torch.Tensor:
        c, n = f.shape[1], f[0, 0].numel()
        flat = f.reshape(c, n)
        return flat @ flat.T / (c * n)

    expected_content = 5 * ((fx["relu4_2"] - fc["relu4_2"]) ** 2).mean()
    expected_style = sum(100 * ((gram(fx[n]) - gram(fs[n])) ** 2).mean()
                         for n in layers if n != "relu4_2")
    x255 = init * 255
    expected_tv = 1e-3 / 2 * ((x255.diff(dim=2) ** 2).sum() + (x255.diff(dim=3) ** 2).sum())
    assert got["content"] == pytest.approx(float(expected_content), rel=1e-4)
    assert got["style"] == pytest.approx(float(expected_style), rel=1e-4)
    assert got["tv"] == pytest.approx(float(expected_tv), rel=1e-4)
