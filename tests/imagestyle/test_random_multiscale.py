"""The random multi-scale network (Ustyuzhaninov et al. 2017)."""

from __future__ import annotations

import pytest
import torch

from imagestyle.features import DEFAULT_LAYERS, build_extractor
from imagestyle.random_multiscale import (
    KERNEL_SIZES,
    RandomMultiscaleFeatures,
    flops_per_pixel,
    pooled_kernel,
    receptive_fields,
)


def test_layer_names_and_shapes() -> None:
    net = RandomMultiscaleFeatures(seed=0)
    assert net.available_layers == [f"scale{k}" for k in KERNEL_SIZES]
    assert list(DEFAULT_LAYERS["random-multiscale"].style) == net.available_layers
    out = net(torch.rand(1, 3, 64, 72))
    assert out["scale3"].shape == (1, 128, 62, 70)  # valid convolution at full resolution
    assert out["scale55"].shape[-2:] == (1, 2)  # tent-filtered with stride 8, 7 taps
    assert all((v >= 0).all() for v in out.values())  # ReLU


def test_only_requested_scales_computed_with_the_same_filters() -> None:
    full = RandomMultiscaleFeatures(seed=5)
    part = RandomMultiscaleFeatures(["scale23", "scale5"], seed=5)
    assert part.layers == ["scale23", "scale5"]
    assert len(list(part.buffers())) == 2 + 1 + 2  # two filter banks, a tent, mean and std
    x = torch.rand(1, 3, 48, 48)
    out = part(x)
    assert set(out) == {"scale23", "scale5"}
    torch.testing.assert_close(out["scale23"], full(x)["scale23"])


def test_seed_gives_same_network_and_different_seeds_differ() -> None:
    x = torch.rand(1, 3, 32, 32)
    a = RandomMultiscaleFeatures(["scale7"], seed=1)(x)["scale7"]
    b = RandomMultiscaleFeatures(["scale7"], seed=1)(x)["scale7"]
    c = RandomMultiscaleFeatures(["scale7"], seed=2)(x)["scale7"]
    torch.testing.assert_close(a, b)
    assert not torch.allclose(a, c)


def test_batched_equals_per_item_and_gradient_reaches_input() -> None:
    net = RandomMultiscaleFeatures(seed=0)
    x = torch.rand(2, 3, 40, 40, requires_grad=True)
    out = net(x)
    for i in range(2):
        single = net(x[i : i + 1].detach())
        for name in net.layers:
            torch.testing.assert_close(out[name][i : i + 1], single[name], rtol=1e-4, atol=1e-5)
    sum(v.square().mean() for v in out.values()).backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_tiny_inputs_are_padded_not_rejected() -> None:
    out = RandomMultiscaleFeatures(seed=0)(torch.rand(1, 3, 8, 8))
    assert all(v.shape[-1] >= 1 and v.shape[-2] >= 1 for v in out.values())


def test_pooled_kernels_cover_the_nominal_sizes() -> None:
    fields = receptive_fields()
    for k in KERNEL_SIZES:
        d, taps = pooled_kernel(k)
        assert taps % 2 == 1 and taps <= 13
        assert abs(fields[f"scale{k}"] - k) <= d  # within one pooled pixel of the paper's size
    # The pooled layer is far cheaper than the paper's full-resolution 55 px filters.
    full = sum(2 * 3 * k * k * 128 for k in KERNEL_SIZES)
    assert flops_per_pixel() < full / 10


def test_unknown_layer_and_build_extractor() -> None:
    with pytest.raises(ValueError, match="valid layers: scale3, scale5"):
        build_extractor("random-multiscale", ["relu1_1"])
    net = build_extractor("random-multiscale", ["scale3"], seed=3)
    assert isinstance(net, RandomMultiscaleFeatures)
    assert not any(p.requires_grad for p in net.parameters())
