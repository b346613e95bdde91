"""VGG extractor: named layers, early stop, both weight layouts and their preprocessing."""

from __future__ import annotations

import re
from contextlib import nullcontext
from pathlib import Path

import pytest
import torch
import torchvision

from imagestyle.features import build_extractor, feature_layout
from imagestyle.vgg import (
    CAFFE_MEAN_BGR,
    VGGFeatures,
    convert_state_dict,
    layer_names,
    load_weights,
    torchvision_index,
    vgg_layout,
)

from helpers.images import vgg_state


def test_named_layers_and_early_stop() -> None:
    net = VGGFeatures("vgg19", ["relu1_1", "relu2_1"])
    out = net(torch.rand(2, 3, 32, 32))
    assert list(out) == ["relu1_1", "relu2_1"]
    assert out["relu1_1"].shape == (2, 64, 32, 32)
    assert out["relu2_1"].shape == (2, 128, 16, 16)
    assert len(net.features) == layer_names("vgg19").index("relu2_1") + 1  # nothing deeper
    assert (out["relu2_1"] >= 0).all()


def test_layer_names_match_torchvision_indices() -> None:
    idx = torchvision_index("vgg16")
    assert idx["conv1_1"] == 0 and idx["relu5_3"] == 29 and idx["pool5"] == 30
    assert len(layer_names("vgg19")) == 37


@pytest.mark.parametrize("model", ["vgg19", "vgg16", "random-multiscale"])
def test_layout_answers_what_the_network_computes(model: str) -> None:
    layout = feature_layout(model)
    layers = [n for n in layout.names if not n.startswith("conv")]
    with pytest.warns(UserWarning) if model != "random-multiscale" else nullcontext():
        net = build_extractor(model, layers, weights="random")
    assert net.layout is layout  # the extractor owns the same object everyone asks
    with torch.no_grad():
        out = net(torch.rand(1, 3, 64, 96))
    for name in layers:
        assert out[name].shape[1] == layout.channels(name), name
        if model != "random-multiscale":  # VGG pads: the stride alone gives the size
            assert out[name].shape[-2:] == (64 // layout.stride(name), 96 // layout.stride(name))
        else:  # valid convolution on the image pooled by the stride
            d, k = layout.stride(name), layout.taps(name)
            assert out[name].shape[-1] == pytest.approx(96 // d - k + 1, abs=1), name


def test_vgg_layout_is_built_once_and_names_its_layers() -> None:
    layout = vgg_layout("vgg19")
    assert vgg_layout("vgg19") is layout
    assert layout.upto(["relu2_1"])[-1] == "relu2_1" and len(layout.upto(["relu2_1"])) == 7
    assert (layout.in_channels("conv1_1"), layout.in_channels("conv2_1")) == (3, 64)
    assert layout.stride("pool5") == 32 and layout.channels("pool5") == 512
    with pytest.raises(ValueError, match="unknown vgg19 layer relu9_9"):
        layout.channels("relu9_9")


def test_torchvision_layout_matches_torchvision_vgg(tmp_path: Path) -> None:
    state = vgg_state("vgg16", seed=3)
    path = tmp_path / "tv.pth"
    torch.save(state, path)
    loaded, pre = load_weights("vgg16", str(path))
    assert pre == "torchvision"
    net = VGGFeatures("vgg16", ["relu3_3"], loaded, preprocess=pre)
    from torchvision.models.vgg import cfgs, make_layers

    ref = make_layers(cfgs["D"])
    ref.load_state_dict({k.removeprefix("features."): v for k, v in state.items()})
    x = torch.rand(1, 3, 32, 32)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    with torch.no_grad():
        expected = ref[:16]((x - mean) / std)
        torch.testing.assert_close(net(x)["relu3_3"], expected, rtol=1e-4, atol=1e-5)


def test_caffe_named_layout_loads_with_bgr_preprocessing(tmp_path: Path) -> None:
    state = vgg_state("vgg16", seed=4)
    idx = torchvision_index("vgg16")
    named = {}
    for name, i in idx.items():
        if name.startswith("conv"):
            named[f"{name}.weight"] = state[f"features.{i}.weight"]
            named[f"{name}.bias"] = state[f"features.{i}.bias"]
    path = tmp_path / "vgg_conv.pth"
    torch.save(named, path)
    loaded, pre = load_weights("vgg16", str(path))
    assert pre == "caffe"
    torch.testing.assert_close(loaded, convert_state_dict(state, "vgg16"))
    net = VGGFeatures("vgg16", ["conv1_1"], loaded, preprocess=pre)
    # The Caffe mean colour maps to zero; pure red lands in the last (BGR) channel in 0-255.
    mean_rgb = torch.tensor(CAFFE_MEAN_BGR[::-1]).view(1, 3, 1, 1) / 255.0
    torch.testing.assert_close(net.normalize(mean_rgb.expand(1, 3, 4, 4)),
                               torch.zeros(1, 3, 4, 4), atol=1e-4, rtol=0)
    red = torch.zeros(1, 3, 1, 1)
    red[:, 0] = 1.0
    bgr = net.normalize(red).flatten()
    torch.testing.assert_close(bgr, torch.tensor([-103.939, -116.779, 255 - 123.68]),
                               atol=1e-3, rtol=0)


def test_known_caffe_file_name_selects_caffe(tmp_path: Path) -> None:
    path = tmp_path / "vgg16-00b39a1b.pth"
    torch.save(vgg_state("vgg16"), path)
    _, pre = load_weights("vgg16", str(path))
    assert pre == "caffe"


def test_wrong_arch_weights_fail_in_one_line(vgg16_file: Path) -> None:
    with pytest.raises(ValueError, match="do not match vgg19"):
        build_extractor("vgg19", ["relu1_1"], weights=str(vgg16_file))


def test_unknown_layer_lists_valid_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown vgg16 layer\(s\) relu9_9; valid layers: conv1_1"):
        VGGFeatures("vgg16", ["relu9_9"])


def test_imagenet_offline_says_where_weights_come_from(monkeypatch: pytest.MonkeyPatch,
                                                        tmp_path: Path) -> None:
    def offline(*args: object, **kwargs: object) -> None:
        raise OSError("network is unreachable")

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    monkeypatch.setattr(torchvision.models.VGG19_Weights.IMAGENET1K_V1.__class__,
                        "get_state_dict", offline)
    with pytest.raises(ValueError) as info:
        load_weights("vgg19", "imagenet")
    message = str(info.value)
    assert "download.pytorch.org" in message and "weights PATH.pth" in message
    assert "--" not in message  # the library names its parameter; the CLI names the flag
    assert "\n" not in message and re.search(r"vgg19-\w+\.pth", message)


def test_random_weights_warn_and_are_seeded() -> None:
    with pytest.warns(UserWarning, match="not artistic"):
        a = build_extractor("vgg16", ["relu1_2"], weights="random", seed=1)
    with pytest.warns(UserWarning):
        b = build_extractor("vgg16", ["relu1_2"], weights="random", seed=1)
    x = torch.rand(1, 3, 16, 16)
    torch.testing.assert_close(a(x)["relu1_2"], b(x)["relu1_2"])
