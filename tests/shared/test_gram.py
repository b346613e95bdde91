import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from shared import blend_grams, gram_matrix, normalize_blend_weights


def loop_gram(f: torch.Tensor) -> torch.Tensor:
    """Reference Gram by explicit loops over channels: f is (C, *spatial)."""
    c = f.shape[0]
    flat = f.reshape(c, -1)
    g = torch.empty(c, c, dtype=f.dtype)
    for i in range(c):
        for j in range(c):
            g[i, j] = sum(float(flat[i, k]) * float(flat[j, k]) for k in range(flat.shape[1]))
    return g


@pytest.mark.parametrize("shape", [(3, 4, 7), (2, 5, 3, 4), (1, 2, 2, 3, 2)])
@pytest.mark.parametrize(
    "normalize,divisor", [("none", lambda c, n: 1), ("positions", lambda c, n: n),
                          ("channels_positions", lambda c, n: c * n)]
)
def test_gram_matches_explicit_loop(shape, normalize, divisor):
    torch.manual_seed(0)
    f = torch.randn(*shape, dtype=torch.float64)
    g = gram_matrix(f, normalize)
    b, c = shape[:2]
    n = int(torch.tensor(shape[2:]).prod())
    assert g.shape == (b, c, c)
    for i in range(b):
        torch.testing.assert_close(g[i], loop_gram(f[i]) / divisor(c, n))


def test_batched_equals_per_item():
    torch.manual_seed(1)
    f = torch.randn(4, 6, 5, 3)
    g = gram_matrix(f)
    for i in range(4):
        torch.testing.assert_close(g[i : i + 1], gram_matrix(f[i : i + 1]))


def test_audio_and_image_shapes_share_the_code():
    # A (B, C, T) audio feature and the same numbers as a (B, C, 1, T) image give one Gram.
    f = torch.randn(2, 3, 10)
    torch.testing.assert_close(gram_matrix(f), gram_matrix(f.unsqueeze(2)))


@settings(max_examples=25, deadline=None)
@given(b=st.integers(1, 3), c=st.integers(1, 6), n=st.integers(1, 9), seed=st.integers(0, 10_000))
def test_symmetric_positive_semidefinite(b, c, n, seed):
    g = torch.Generator().manual_seed(seed)
    f = torch.randn(b, c, n, generator=g, dtype=torch.float64)
    gram = gram_matrix(f)
    torch.testing.assert_close(gram, gram.transpose(1, 2))
    eig = torch.linalg.eigvalsh(gram)
    assert (eig >= -1e-10).all()


@settings(max_examples=25, deadline=None)
@given(b=st.integers(1, 2), c=st.integers(1, 5),
       spatial=st.lists(st.integers(1, 5), min_size=1, max_size=3), k=st.integers(1, 4),
       axis=st.integers(0, 2), seed=st.integers(0, 10_000))
def test_gram_of_a_tiled_map_is_the_maps_gram(b, c, spatial, k, axis, seed):
    """Tiling a feature map k times along any spatial axis keeps its position-normalised Gram
    (a mean over positions) and multiplies the raw one by k."""
    axis = 2 + axis % len(spatial)
    f = torch.randn(b, c, *spatial, generator=torch.Generator().manual_seed(seed),
                    dtype=torch.float64)
    reps = [1] * f.dim()
    reps[axis] = k
    tiled = f.repeat(*reps)
    for normalize in ("positions", "channels_positions"):
        torch.testing.assert_close(gram_matrix(tiled, normalize), gram_matrix(f, normalize))
    torch.testing.assert_close(gram_matrix(tiled, "none"), k * gram_matrix(f, "none"))


@settings(max_examples=25, deadline=None)
@given(weights=st.lists(st.floats(0.0, 10.0), min_size=1, max_size=4),
       other=st.lists(st.floats(0.0, 10.0), min_size=4, max_size=4), t=st.floats(0.0, 1.0),
       scale=st.floats(0.01, 100.0), c=st.integers(1, 5), seed=st.integers(0, 10_000))
def test_blended_target_is_linear_in_the_weights(weights, other, t, scale, c, seed):
    """The blend is sum_i p_i G_i with p the weights normalised to sum 1: linear along any
    segment between two normalised weight vectors, and blind to the weights' overall scale."""
    n = len(weights)
    other = other[:n]
    assume(sum(weights) > 1e-3 and sum(other) > 1e-3)
    g = torch.Generator().manual_seed(seed)
    grams = [gram_matrix(torch.randn(1, c, 7, generator=g, dtype=torch.float64))
             for _ in range(n)]
    p = torch.tensor(weights, dtype=torch.float64) / sum(weights)
    q = torch.tensor(other, dtype=torch.float64) / sum(other)
    explicit = sum(w * gram for w, gram in zip(p, grams))
    torch.testing.assert_close(blend_grams(grams, weights), explicit)
    torch.testing.assert_close(blend_grams(grams, [w * scale for w in weights]), explicit)
    mixed = blend_grams(grams, (t * p + (1 - t) * q).tolist())
    torch.testing.assert_close(mixed, t * blend_grams(grams, p.tolist())
                               + (1 - t) * blend_grams(grams, q.tolist()))


def test_gradcheck_float64():
    f = torch.randn(2, 3, 4, 2, dtype=torch.float64, requires_grad=True)
    for normalize in ("none", "positions", "channels_positions"):
        assert torch.autograd.gradcheck(lambda x: gram_matrix(x, normalize), (f,))


def test_gram_rejects_bad_input():
    with pytest.raises(ValueError, match="at least one spatial"):
        gram_matrix(torch.randn(3, 4))
    with pytest.raises(ValueError, match="normalize"):
        gram_matrix(torch.randn(1, 3, 4), "bogus")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        gram_matrix([[1.0]])  # type: ignore[arg-type]


def test_blend_grams_weighted_average():
    a, b = torch.ones(1, 2, 2), torch.zeros(1, 2, 2)
    torch.testing.assert_close(blend_grams([a, b], [3, 1]), torch.full((1, 2, 2), 0.75))
    torch.testing.assert_close(blend_grams([a, b]), torch.full((1, 2, 2), 0.5))
    with pytest.raises(ValueError, match="2 styles"):
        blend_grams([a, b], [1.0])
    with pytest.raises(ValueError, match="one shape"):
        blend_grams([a, torch.ones(1, 3, 3)])


def test_blend_weights_validation():
    assert normalize_blend_weights(2, [1, 3]) == [0.25, 0.75]


@pytest.mark.parametrize("bad,message", [
    pytest.param([0, 0], "must not all be zero", id="all zero"),
    pytest.param([-1, 2], "non-negative", id="negative"),
    pytest.param([float("nan"), 1], "non-negative", id="nan"),
    pytest.param([float("inf"), 1], "finite", id="inf"),
    pytest.param([1, 2, 3], "3 blend weights for 2 styles", id="too many"),
])
def test_bad_blend_weights(bad, message):
    with pytest.raises(ValueError, match=message):
        normalize_blend_weights(2, bad)
