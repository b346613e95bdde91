"""The random convolution features: exact convolution, gradients, bf16 precision, seeding."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from audiostyle.network import RandomConvBank, filter_std, random_filters
from shared import gram_matrix


def test_reference_weight_scale() -> None:
    assert math.isclose(filter_std(1025, 4096, 11), 0.0084, rel_tol=0.01)
    w = random_filters(100, 200, 3, torch.Generator().manual_seed(0))
    assert w.shape == (200, 100, 3)
    assert math.isclose(float(w.std()), filter_std(100, 200, 3), rel_tol=0.02)


def test_bank_names_shapes_buffers_and_seed() -> None:
    net = RandomConvBank(bins=17, filters=8, kernel_widths=(3, 7), seed=5)
    spec = torch.randn(2, 17, 20)
    feats = net(spec)
    assert list(feats) == ["conv3", "conv7"]
    assert feats["conv3"].shape == (2, 8, 18) and feats["conv7"].shape == (2, 8, 14)
    assert all((f >= 0).all() for f in feats.values())  # ReLU
    assert not any(b.requires_grad for b in net.buffers()) and not list(net.parameters())
    again = RandomConvBank(bins=17, filters=8, kernel_widths=(3, 7), seed=5)
    other = RandomConvBank(bins=17, filters=8, kernel_widths=(3, 7), seed=6)
    torch.testing.assert_close(again.weight(7), net.weight(7))
    assert not torch.equal(other.weight(7), net.weight(7))
    assert net.receptive_frames == 7


def test_batched_equals_per_item() -> None:
    net = RandomConvBank(bins=10, filters=6, kernel_widths=(4,), seed=0)
    spec = torch.randn(3, 10, 12)
    batched = net(spec)["conv4"]
    for i in range(3):
        torch.testing.assert_close(batched[i: i + 1], net(spec[i: i + 1])["conv4"])


def test_flops_count_is_dominated_by_the_matmuls() -> None:
    net = RandomConvBank(bins=1025, filters=4096, kernel_widths=(11,))
    flops = net.flops_per_evaluation(431)
    conv = 2 * 4096 * 1025 * 11 * 421
    assert 2 * conv < flops < 2 * conv + 4 * 2 * 4096**2 * 421


def test_bank_gradient_matches_autograd_through_conv1d() -> None:
    net = RandomConvBank(bins=6, filters=5, kernel_widths=(2, 4), seed=1).double()
    spec = torch.randn(1, 6, 15, dtype=torch.float64, requires_grad=True)
    ours = sum(f.square().sum() for f in net(spec).values())
    (g_ours,) = torch.autograd.grad(ours, spec)
    ref = sum(torch.relu(torch.nn.functional.conv1d(spec, net.weight(k))).square().sum()
              for k in (2, 4))
    (g_ref,) = torch.autograd.grad(ref, spec)
    torch.testing.assert_close(g_ours, g_ref)


@settings(max_examples=20, deadline=None)
@given(bins=st.integers(1, 8), filters=st.integers(1, 6),
       widths=st.lists(st.integers(1, 5), min_size=1, max_size=2, unique=True),
       extra=st.integers(0, 6), k=st.integers(1, 4), seed=st.integers(0, 1000))
def test_a_circularly_tiled_spectrogram_has_the_spectrograms_gram(bins, filters, widths, extra,
                                                                  k, seed) -> None:
    """The exact case of "a style repeated k times has the style's Gram": with the K - 1
    frames that wrap around appended, the features of k copies are k copies of the features of
    one (circular convolution), so every layer's position-normalised Gram is the same."""
    net = RandomConvBank(bins, filters, widths, seed=seed).double()
    frames = max(widths) + extra
    spec = torch.randn(1, bins, frames, generator=torch.Generator().manual_seed(seed + 1),
                       dtype=torch.float64)
    wrap = max(widths) - 1

    def grams(tiles: int) -> dict[str, torch.Tensor]:
        x = torch.cat([spec.repeat(1, 1, tiles), spec[..., :wrap]], dim=-1)  # (1, F, T*k + K-1)
        # The first T*k output frames of each layer are the circular convolution's.
        return {name: gram_matrix(f[..., :frames * tiles]) for name, f in net(x).items()}

    once, many = grams(1), grams(k)
    for name in net.layer_names:
        torch.testing.assert_close(many[name], once[name])


def test_bf16_is_exact_at_its_anchor_and_close_around_it() -> None:
    """bf16 rounds only the displacement from a float32 anchor: features within 1e-4 of
    float32 (plain bf16 is off by ~4e-3), gradients within 1 %, targets untouched."""
    exact = RandomConvBank(bins=65, filters=48, kernel_widths=(3, 11), seed=2)
    fast = RandomConvBank(bins=65, filters=48, kernel_widths=(3, 11), seed=2, precision="bf16")
    g = torch.Generator().manual_seed(0)
    x = torch.rand(1, 65, 40, generator=g) * 3
    with torch.no_grad():  # no grad: targets, always float32
        for k, f in fast(x).items():
            torch.testing.assert_close(f, exact(x)[k], rtol=0, atol=0)
    at_anchor = fast(x.clone().requires_grad_(True))
    for k, f in at_anchor.items():
        torch.testing.assert_close(f, exact(x)[k], rtol=0, atol=0)
    moved = x + 0.01 * torch.randn(x.shape, generator=g)
    v = moved.clone().requires_grad_(True)
    feats = fast(v)
    for k, f in feats.items():
        ref = exact(moved)[k]
        assert float((f.detach() - ref).abs().max() / ref.abs().max()) < 1e-4
        plain = torch.relu(torch.nn.functional.conv1d(moved.bfloat16(),
                                                      exact.weight(int(k[4:])).bfloat16()))
        assert float((plain.float() - ref).abs().max() / ref.abs().max()) > 1e-3
    (g_fast,) = torch.autograd.grad(sum(f.square().sum() for f in feats.values()), v)
    w = moved.clone().requires_grad_(True)
    (g_exact,) = torch.autograd.grad(sum(f.square().sum() for f in exact(w).values()), w)
    assert float((g_fast - g_exact).norm() / g_exact.norm()) < 1e-2


def test_a_cast_convolution_is_plain_bf16_and_a_subset_is_its_rows() -> None:
    """``dtype=torch.bfloat16`` (a training step's): features within 2 % of float32, in the
    input's dtype, with gradients; ``chosen`` gives the same filters' rows, in either dtype."""
    exact = RandomConvBank(bins=65, filters=48, kernel_widths=(3, 11), seed=2)
    x = torch.rand(2, 65, 40, generator=torch.Generator().manual_seed(1)) * 3
    cast = exact(x, None, torch.bfloat16)
    chosen = torch.tensor([0, 5, 17, 47])
    for k, ref in exact(x).items():
        assert cast[k].dtype == torch.float32
        assert 1e-4 < float((cast[k] - ref).abs().max() / ref.abs().max()) < 2e-2
        torch.testing.assert_close(exact(x, chosen)[k], ref[:, chosen], rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(exact(x, chosen, torch.bfloat16)[k], cast[k][:, chosen],
                                   rtol=0, atol=0)
    v = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(exact(v, None, torch.bfloat16)["conv3"].sum(), v)
    w = x.clone().requires_grad_(True)
    (g_exact,) = torch.autograd.grad(exact(w)["conv3"].sum(), w)
    # bf16 weights, and the ReLU's mask near 0
    assert float((g - g_exact).norm() / g_exact.norm()) < 5e-2


def test_bf16_anchor_follows_a_new_variable() -> None:
    fast = RandomConvBank(bins=9, filters=8, kernel_widths=(3,), seed=0, precision="bf16",
                          anchor_refresh=1000)
    exact = RandomConvBank(bins=9, filters=8, kernel_widths=(3,), seed=0)
    fast(torch.rand(1, 9, 12).requires_grad_(True))
    far = torch.rand(1, 9, 12) * 50  # another variable: the anchor is renewed, exact again
    torch.testing.assert_close(fast(far.requires_grad_(True))["conv3"],
                               exact(far.detach())["conv3"], rtol=0, atol=0)
    with pytest.raises(ValueError, match="precision"):
        RandomConvBank(bins=9, filters=8, precision="fp16")


@settings(max_examples=25, deadline=None)
@given(widths=st.lists(st.integers(1, 6), min_size=1, max_size=3, unique=True),
       extra=st.integers(0, 30), chunk=st.integers(1, 12), seed=st.integers(0, 100))
def test_gram_accumulated_in_chunks_equals_the_whole(widths, extra, chunk, seed) -> None:
    """A long style's Gram, summed chunk by chunk, is the Gram of its whole features."""
    from audiostyle.targets import chunked_grams

    net = RandomConvBank(7, 5, widths, seed=seed).double()
    spec = torch.rand(1, 7, max(widths) + extra, generator=torch.Generator().manual_seed(seed),
                      dtype=torch.float64)
    whole = {k: gram_matrix(f) for k, f in net(spec).items()}
    chunked = chunked_grams(net, spec, chunk_frames=chunk)
    assert chunked.keys() == whole.keys()
    for k in whole:
        torch.testing.assert_close(chunked[k], whole[k])
