import pytest
import torch

from shared import (StyleContentObjective, content_loss, gram_matrix, style_loss,
                    tv_loss)


def test_content_loss_reductions():
    x = torch.tensor([[[1.0, 2.0, 3.0]]])
    t = torch.tensor([[[1.0, 0.0, 0.0]]])
    assert content_loss(x, t, "sum").item() == pytest.approx(13.0)
    assert content_loss(x, t, "mean").item() == pytest.approx(13.0 / 3)
    with pytest.raises(ValueError, match="reduction"):
        content_loss(x, t, "max")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="must match"):
        content_loss(x, torch.zeros(1, 1, 4))


def test_style_loss_single_and_blend():
    g = torch.zeros(1, 2, 2)
    a = torch.ones(1, 2, 2)
    b = 3 * torch.ones(1, 2, 2)
    assert style_loss(g, a).item() == pytest.approx(4.0)
    assert style_loss(g, a, reduction="mean").item() == pytest.approx(1.0)
    # Blend 1:1 of 1 and 3 is 2 -> 4 elements of 4.
    assert style_loss(g, [a, b]).item() == pytest.approx(16.0)
    assert style_loss(g, [a, b], [1, 0]).item() == pytest.approx(4.0)
    with pytest.raises(ValueError):
        style_loss(g, a, weights=[1.0])
    with pytest.raises(ValueError):
        style_loss(g, torch.ones(1, 3, 3))


def test_tv_loss_known_values():
    x = torch.tensor([[[[0.0, 1.0], [2.0, 4.0]]]])
    # vertical diffs 2, 3 -> 4 + 9; horizontal diffs 1, 2 -> 1 + 4
    assert tv_loss(x).item() == pytest.approx(18.0)
    assert tv_loss(x, "mean").item() == pytest.approx(13 / 2 + 5 / 2)
    assert tv_loss(torch.ones(1, 3, 5, 5)).item() == 0.0
    assert tv_loss(torch.arange(4.0).view(1, 1, 4)).item() == pytest.approx(3.0)  # 1-D


@pytest.mark.parametrize("fn", ["content", "style", "tv"])
def test_gradcheck_losses(fn):
    torch.manual_seed(0)
    x = torch.randn(2, 3, 4, 3, dtype=torch.float64, requires_grad=True)
    t = torch.randn(1, 3, 4, 3, dtype=torch.float64)
    tg = gram_matrix(t)
    funcs = {
        "content": lambda x: content_loss(x, t, "mean"),
        "style": lambda x: style_loss(gram_matrix(x), tg, reduction="sum"),
        "tv": lambda x: tv_loss(x, "sum"),
    }
    assert torch.autograd.gradcheck(funcs[fn], (x,))


def test_objective_terms_and_weights():
    torch.manual_seed(0)
    content = {"a": torch.randn(1, 4, 5), "b": torch.randn(1, 3, 6)}
    style1 = {"a": torch.randn(1, 4, 9), "b": torch.randn(1, 3, 2)}
    style2 = {"a": torch.randn(1, 4, 7), "b": torch.randn(1, 3, 11)}
    obj = StyleContentObjective.from_features(
        content, [style1, style2], content_layers=["a"], style_layers=["a", "b"],
        style_blend_weights=[2, 1], content_weight=0.5, style_weight=3.0,
        style_layer_weights={"b": 0.25}, reduction="sum", gram_normalize="positions",
    )
    x = {"a": torch.randn(1, 4, 5), "b": torch.randn(1, 3, 6)}
    out = obj(x)
    target_a = (2 * gram_matrix(style1["a"]) + gram_matrix(style2["a"])) / 3
    target_b = (2 * gram_matrix(style1["b"]) + gram_matrix(style2["b"])) / 3
    exp_content = 0.5 * ((x["a"] - content["a"]) ** 2).sum()
    exp_style = 3.0 * (((gram_matrix(x["a"]) - target_a) ** 2).sum()
                       + 0.25 * ((gram_matrix(x["b"]) - target_b) ** 2).sum())
    torch.testing.assert_close(out.terms["content"], exp_content)
    torch.testing.assert_close(out.terms["style"], exp_style)
    torch.testing.assert_close(out.total, exp_content + exp_style)
    floats = out.floats(per_layer=True)
    assert set(floats) == {"total", "content", "style", "content/a", "style/a", "style/b"}
    assert obj.layers == ["a", "b"]


def test_per_call_content_targets_replace_the_stored_ones_item_by_item():
    torch.manual_seed(1)
    style = {"a": torch.randn(1, 3, 8)}
    per_call = StyleContentObjective.from_features(
        None, [style], content_layers=["a"], style_layers=["a"], content_weight=2.0,
        reduction="mean")
    x = {"a": torch.randn(4, 3, 8, requires_grad=True)}
    targets = {"a": torch.randn(4, 3, 8, requires_grad=True)}  # one content per batch item
    out = per_call(x, content_targets=targets)
    torch.testing.assert_close(out.terms["content"],
                               2.0 * ((x["a"] - targets["a"]) ** 2).mean())
    out.total.backward()
    assert x["a"].grad is not None and targets["a"].grad is None  # targets are detached
    for i in range(4):  # batched equals per-item for the content term
        one = per_call({"a": x["a"][i:i + 1]}, content_targets={"a": targets["a"][i:i + 1]})
        torch.testing.assert_close(one.terms["content"],
                                   2.0 * ((x["a"][i] - targets["a"][i]) ** 2).mean())
    with pytest.raises(ValueError, match="no stored target"):
        per_call(x)
    stored = StyleContentObjective.from_features({"a": targets["a"][:1]}, [style],
                                                 content_layers=["a"], style_layers=["a"])
    other = {"a": torch.zeros(1, 3, 8)}
    torch.testing.assert_close(stored(x, content_targets=other).terms["content"],
                               (x["a"] ** 2).sum())  # the call's targets win
    with pytest.raises(ValueError, match="lack the content layers"):
        stored(x, content_targets={})


def test_objective_targets_are_buffers_and_detached():
    f = torch.randn(1, 2, 5, requires_grad=True)
    obj = StyleContentObjective.from_features({"a": f}, [{"a": f}], content_layers=["a"],
                                              style_layers=["a"])
    assert len(list(obj.buffers())) == 2
    assert all(not b.requires_grad for b in obj.buffers())


def test_objective_tv_needs_image_and_validates():
    obj = StyleContentObjective(style_targets={"a": torch.eye(2)[None]}, tv_weight=1.0)
    with pytest.raises(ValueError, match="image"):
        obj({"a": torch.randn(1, 2, 3)})
    with pytest.raises(ValueError, match="lack"):
        obj({"b": torch.randn(1, 2, 3)}, image=torch.randn(1, 1, 3))
    with pytest.raises(ValueError, match="non-negative"):
        StyleContentObjective(style_targets={"a": torch.eye(2)[None]}, style_weight=-1)
    with pytest.raises(ValueError, match="without targets"):
        StyleContentObjective(style_targets={"a": torch.eye(2)[None]},
                              style_layer_weights={"zz": 1.0})


def test_objective_tv_reduction_can_differ():
    img = torch.arange(12.0).view(1, 1, 3, 4)
    targets = {"a": torch.zeros(1, 1, 1)}
    obj = StyleContentObjective(style_targets=targets, tv_weight=2.0, reduction="mean",
                                tv_reduction="sum")
    out = obj({"a": torch.zeros(1, 1, 5)}, image=img)
    torch.testing.assert_close(out.terms["tv"], 2.0 * tv_loss(img, "sum"))
    same = StyleContentObjective(style_targets=targets, tv_weight=2.0, reduction="mean")
    torch.testing.assert_close(same({"a": torch.zeros(1, 1, 5)}, image=img).terms["tv"],
                               2.0 * tv_loss(img, "mean"))


@pytest.mark.parametrize("normalize", ["positions", "channels_positions", "none"])
@pytest.mark.parametrize("reduction", ["sum", "mean"])
@pytest.mark.parametrize("target_batch", [0, 1, 3])
def test_fused_gram_style_loss_equals_the_composition(normalize, reduction, target_batch):
    from shared import gram_style_loss

    torch.manual_seed(0)
    f = torch.randn(3, 4, 5, 2, dtype=torch.float64, requires_grad=True)
    t = gram_matrix(torch.randn(max(target_batch, 1), 4, 7, dtype=torch.float64), normalize)
    if target_batch == 0:
        t = t[0]  # (C, C)
    fused = gram_style_loss(f, t, normalize, reduction)
    plain = style_loss(gram_matrix(f, normalize), t, reduction=reduction)
    torch.testing.assert_close(fused, plain)
    (g1,) = torch.autograd.grad(fused, f)
    (g2,) = torch.autograd.grad(plain, f)
    torch.testing.assert_close(g1, g2)
    assert torch.autograd.gradcheck(lambda x: gram_style_loss(x, t, normalize, reduction), (f,))


def test_fused_gram_style_loss_validates():
    from shared import gram_style_loss

    with pytest.raises(ValueError, match="channels"):
        gram_style_loss(torch.randn(1, 3, 4), torch.eye(4))
    with pytest.raises(ValueError, match="reduction"):
        gram_style_loss(torch.randn(1, 3, 4), torch.eye(3), reduction="max")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="symmetric"):
        StyleContentObjective(style_targets={"a": torch.tensor([[[1.0, 2.0], [0.0, 1.0]]])})
