"""Properties of the generators: any size in, same size out; batching; scripting; configs."""

from __future__ import annotations

import warnings

import pytest
import torch

from imagestyle.feedforward.networks import (TextureNet, TextureNetConfig, TransformNet,
                                             TransformNetConfig, build_network, network_config,
                                             pad_to_multiple, run_generator)

SIZES = [(1, 1), (5, 7), (17, 33), (32, 32), (45, 20)]


@pytest.mark.parametrize("hw", SIZES)
def test_transform_net_keeps_any_size(hw):
    torch.manual_seed(0)
    net = TransformNet(TransformNetConfig(width=0.125)).eval()
    x = torch.rand(2, 3, *hw)
    assert net(x).shape == x.shape


@pytest.mark.parametrize("mode", ["stylize", "texture"])
@pytest.mark.parametrize("hw", SIZES)
def test_texture_net_keeps_any_size(mode, hw):
    net = TextureNet(TextureNetConfig(mode=mode, scales=4, channels=4)).eval()
    noise = torch.randn(net.noise_shape(2, *hw))
    content = torch.rand(2, 3, *hw) if mode == "stylize" else None
    assert net(noise, content).shape == (2, 3, *hw)


def test_pad_to_multiple_pads_bottom_right_and_keeps_the_input():
    x = torch.rand(1, 3, 5, 9)
    y, h, w = pad_to_multiple(x, 4, 8)
    assert (h, w) == (5, 9) and y.shape[-2:] == (8, 12)
    assert torch.equal(y[..., :5, :9], x)


def test_transform_net_architecture_follows_johnson():
    net = TransformNet()
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    assert (convs[0].in_channels, convs[0].out_channels, convs[0].kernel_size) == (3, 32, (9, 9))
    assert [c.stride for c in convs[1:3]] == [(2, 2), (2, 2)]
    assert (convs[-1].in_channels, convs[-1].out_channels, convs[-1].kernel_size) == (32, 3, (9, 9))
    assert len(net.residuals) == 5
    assert any(isinstance(m, torch.nn.InstanceNorm2d) for m in net.modules())
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in TransformNet(TransformNetConfig(norm="batch")).modules())
    full = sum(p.numel() for p in net.parameters())
    light = sum(p.numel() for p in TransformNet(TransformNetConfig(width=0.5)).parameters())
    assert 1.6e6 < full < 1.7e6  # the paper's network has about 1.68M parameters
    assert light < full / 3


def test_batched_equals_per_item_with_instance_norm():
    torch.manual_seed(1)
    net = TransformNet(TransformNetConfig(width=0.125)).eval()
    x = torch.rand(3, 3, 20, 28)
    batched = net(x)
    single = torch.cat([net(x[i:i + 1]) for i in range(3)])
    torch.testing.assert_close(batched, single, atol=1e-5, rtol=1e-5)


def test_texture_net_noise_changes_the_output_and_is_its_only_randomness():
    net = TextureNet(TextureNetConfig(mode="texture", scales=3, channels=4)).eval()
    g = torch.Generator().manual_seed(3)
    z1 = torch.randn(net.noise_shape(1, 16, 16), generator=g)
    z2 = torch.randn(net.noise_shape(1, 16, 16), generator=g)
    assert torch.equal(net(z1), net(z1))
    assert not torch.allclose(net(z1), net(z2))


def test_texture_net_rejects_wrong_inputs():
    sty = TextureNet(TextureNetConfig(mode="stylize", scales=2))
    tex = TextureNet(TextureNetConfig(mode="texture", scales=2))
    noise = torch.randn(sty.noise_shape(1, 8, 8))
    with pytest.raises(ValueError, match="pass content"):
        sty(noise)
    with pytest.raises(ValueError, match="takes no content"):
        tex(noise, torch.rand(1, 3, 8, 8))
    with pytest.raises(ValueError, match="noise of shape"):
        tex(torch.randn(1, 2, 8, 8))


def test_gradients_reach_every_parameter():
    net = TextureNet(TextureNetConfig(scales=3, channels=4))
    out = run_generator(net, torch.rand(2, 3, 16, 16), generator=torch.Generator().manual_seed(0))
    out.square().mean().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in net.parameters())


@pytest.mark.parametrize("arch,config", [("johnson", {"width": 0.125}),
                                         ("texture-net", {"scales": 3, "channels": 4})])
def test_scripted_network_matches_eager_at_other_sizes(arch, config):
    net = build_network(arch, config).eval()
    assert build_network(arch, network_config(net)).config == net.config
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scripted = torch.jit.script(net)
    for hw in [(13, 22), (40, 31)]:
        x = torch.rand(1, 3, *hw)
        args = (x,) if arch == "johnson" else (torch.randn(net.noise_shape(1, *hw)), x)
        torch.testing.assert_close(scripted(*args), net(*args))


def test_invalid_configs_are_rejected():
    with pytest.raises(ValueError, match="norm"):
        TransformNet(TransformNetConfig(norm="layer"))
    with pytest.raises(ValueError, match="width"):
        TransformNet(TransformNetConfig(width=0))
    with pytest.raises(ValueError, match="scales"):
        TextureNet(TextureNetConfig(scales=0))
