"""Using trained models: stylise keeps sizes and batches, sample is seeded, export round-trips."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from imagestyle.color import rgb_to_yuv
from imagestyle.feedforward.export import export_model
from imagestyle.feedforward.modelfile import model_payload, save_payload
from imagestyle.feedforward.networks import TextureNet, TextureNetConfig, TransformNet, TransformNetConfig
from imagestyle.feedforward.sample import sample_files, sample_paths, sample_textures
from imagestyle.feedforward.stylize import stylize_batch, stylize_files, stylize_images
from imagestyle.imageio import load_image

HAS_ONNX = all(importlib.util.find_spec(m) for m in ("onnx", "onnxruntime", "onnxscript"))


def _save(net, arch: str, path: Path) -> Path:
    return save_payload(model_payload(net, arch, {"image_size": 24}, 1), path)


@pytest.fixture
def johnson_file(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    return _save(TransformNet(TransformNetConfig(width=0.125)), "johnson", tmp_path / "johnson.pt")


@pytest.fixture
def stylize_texnet_file(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    return _save(TextureNet(TextureNetConfig(scales=3, channels=4)), "texture-net", tmp_path / "tn.pt")


@pytest.fixture
def texture_file(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    net = TextureNet(TextureNetConfig(mode="texture", scales=3, channels=4))
    with torch.no_grad():
        net.to_rgb.bias.fill_(0.5)  # untrained outputs centred in [0, 1], not clamped to black
    return _save(net, "texture-net", tmp_path / "texture.pt")


def test_stylize_keeps_each_input_size(tmp_path: Path, johnson_file: Path, stylize_texnet_file: Path,
                                       random_png):
    inputs = [random_png(tmp_path / "a.png", 37, 23), random_png(tmp_path / "b.jpg", 18, 40, 1),
              random_png(tmp_path / "c.png", 37, 23, 2)]
    for model in (johnson_file, stylize_texnet_file):
        out_dir = tmp_path / f"out_{model.stem}"
        paths = stylize_files(model, inputs, out_dir, batch_size=2)
        assert [p.name for p in paths] == ["a.png", "b.jpg", "c.png"]
        for src, dst in zip(inputs, paths):
            assert Image.open(dst).size == Image.open(src).size
    single = stylize_files(johnson_file, [inputs[0]], tmp_path / "one.png", size=16)
    assert Image.open(single[0]).size == (16, 10)


def test_batched_stylisation_equals_one_at_a_time(johnson_file: Path):
    from imagestyle.feedforward.modelfile import load_model

    net, _ = load_model(johnson_file)
    images = [torch.rand(1, 3, 20, 30), torch.rand(1, 3, 20, 30), torch.rand(1, 3, 11, 9)]
    batched = stylize_images(net, images, batch_size=3)
    alone = stylize_images(net, images, batch_size=1)
    for a, b, x in zip(batched, alone, images):
        assert a.shape == x.shape and 0 <= float(a.min()) and float(a.max()) <= 1
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_preserve_color_keeps_the_content_chrominance(johnson_file: Path):
    from imagestyle.feedforward.modelfile import load_model

    net, _ = load_model(johnson_file)
    x = torch.rand(1, 3, 16, 16) * 0.5 + 0.25
    out = stylize_batch(net, x, preserve_color="luminance")
    uv_out, uv_in = rgb_to_yuv(out)[:, 1:], rgb_to_yuv(x)[:, 1:]
    assert (uv_out - uv_in).abs().mean() < (rgb_to_yuv(stylize_batch(net, x))[:, 1:] - uv_in).abs().mean()


def test_sample_is_seeded_and_count_independent(tmp_path: Path, texture_file: Path):
    from imagestyle.feedforward.modelfile import load_model

    net, _ = load_model(texture_file)
    a = sample_textures(net, 3, (20, 12), seed=4, batch_size=2)
    b = sample_textures(net, 1, (20, 12), seed=4)
    c = sample_textures(net, 1, (20, 12), seed=5)
    assert a[0].shape == (1, 3, 12, 20)
    torch.testing.assert_close(a[0], b[0], atol=1e-5, rtol=0)  # batching only changes rounding
    assert not torch.allclose(a[0], c[0], atol=1e-4) and not torch.allclose(a[0], a[1], atol=1e-4)
    paths = sample_files(texture_file, tmp_path / "tex.png", size=(21, 13), seed=1, count=3)
    assert [p.name for p in paths] == ["tex_001.png", "tex_002.png", "tex_003.png"]
    assert all(Image.open(p).size == (21, 13) for p in paths)
    again = sample_files(texture_file, tmp_path / "again.png", size=(21, 13), seed=1, count=1)
    assert np.array_equal(np.asarray(Image.open(again[0])), np.asarray(Image.open(paths[0])))
    default = sample_files(texture_file, tmp_path / "default.png")
    assert Image.open(default[0]).size == (24, 24)  # the training size
    assert sample_paths(tmp_path / "x.png", 1) == [tmp_path / "x.png"]


def test_wrong_kind_of_model_is_a_value_error(tmp_path: Path, johnson_file: Path, texture_file: Path,
                                               random_png):
    img = random_png(tmp_path / "in.png", 10, 10)
    with pytest.raises(ValueError, match="texture model"):
        stylize_files(texture_file, [img], tmp_path / "o.png")
    with pytest.raises(ValueError, match="stylisation model"):
        sample_files(johnson_file, tmp_path / "s.png")
    with pytest.raises(ValueError, match="one of the inputs"):
        stylize_files(johnson_file, [img], img)
    assert not (tmp_path / "o.png").exists() and not (tmp_path / "s.png").exists()


@pytest.mark.parametrize("function,size,expected", [
    pytest.param("stylize_files", 20, (13, 20), id="stylize_files N: the input's aspect"),
    pytest.param("sample_files", 20, (20, 20), id="sample_files N: the training size's aspect"),
    pytest.param("stylize_files", (9, 7), (9, 7), id="stylize_files (W, H): exactly"),
    pytest.param("sample_files", (9, 7), (9, 7), id="sample_files (W, H): exactly"),
    pytest.param("stylize_files", 0, None, id="stylize_files bad size"),
    pytest.param("sample_files", (0, 5), None, id="sample_files bad size"),
])
def test_size_is_the_longest_side_or_exactly_w_by_h(tmp_path: Path, johnson_file: Path,
                                                    texture_file: Path, random_png, function: str,
                                                    size, expected):
    """``size=N``: longest side N with the natural aspect; ``(W, H)``: exactly; anything else a
    ``ValueError`` naming ``size``, before anything is written."""
    out, photo = tmp_path / "o.png", random_png(tmp_path / "in.png", 30, 45)

    def call() -> list[Path]:
        if function == "stylize_files":
            return stylize_files(johnson_file, [photo], out, size=size)
        return sample_files(texture_file, out, size=size)

    if expected is None:
        with pytest.raises(ValueError, match=r"^size must be N"):
            call()
        assert not out.exists()
    else:
        call()
        assert Image.open(out).size == expected


def _run_exported(path: Path, fmt: str, names: tuple[str, ...],
                  inputs: dict[str, torch.Tensor]) -> torch.Tensor:
    """Run an exported file as a user would, without any of our code: TorchScript through
    ``torch.jit.load``, ONNX through an onnxruntime session."""
    if fmt == "torchscript":
        loaded = torch.jit.load(str(path), map_location="cpu")
        with torch.inference_mode():
            return loaded(*[inputs[n] for n in names])
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert tuple(i.name for i in session.get_inputs()) == names
    return torch.from_numpy(session.run(None, {n: inputs[n].numpy() for n in names})[0])


@pytest.mark.filterwarnings("ignore::FutureWarning")
@pytest.mark.parametrize("fmt", ["torchscript", pytest.param("onnx", marks=[
    pytest.mark.slow,  # the torch.export-based exporter takes about 10 s per model
    pytest.mark.skipif(not HAS_ONNX, reason="onnx, onnxruntime and onnxscript are not installed"),
])])
@pytest.mark.parametrize("model,names", [
    ("johnson_file", ("image",)),
    ("stylize_texnet_file", ("image", "noise")),
    ("texture_file", ("noise",)),
], ids=["johnson", "texture-net-stylize", "texture-net-texture"])
def test_exported_file_computes_what_the_model_computes(tmp_path: Path, request, fmt: str,
                                                        model: str, names: tuple[str, ...]):
    """Load the written file back with its own runtime and compare with the PyTorch network on
    a batch of 2 at an odd size (not a multiple of any stride, not one of export's test sizes)."""
    from imagestyle.feedforward.modelfile import load_model

    path = request.getfixturevalue(model)
    out = tmp_path / f"{path.stem}.{fmt}"
    report = export_model(path, fmt, out)
    assert report.inputs == names and out.exists()
    net, _ = load_model(path)
    g = torch.Generator().manual_seed(11)
    h, w = 37, 23
    inputs = {"image": torch.rand(2, 3, h, w, generator=g)}
    if isinstance(net, TextureNet):
        inputs["noise"] = torch.randn(net.noise_shape(2, h, w), generator=g)
    with torch.inference_mode():
        if isinstance(net, TextureNet):
            want = net(inputs["noise"], inputs["image"] if net.stylize_mode else None)
        else:
            want = net(inputs["image"])
    got = _run_exported(out, fmt, names, inputs)
    assert want.shape == (2, 3, h, w)
    torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)
    assert not torch.allclose(want, want.mean(), atol=1e-3)  # not a constant image


@pytest.mark.parametrize("drift,message", [
    (lambda out, tol: out + 3 * tol, "differs from PyTorch by"),
    (lambda out, tol: out[..., :-1], "output has shape"),
], ids=["values", "shape"])
def test_an_export_that_does_not_match_pytorch_leaves_no_file(tmp_path: Path, johnson_file: Path,
                                                              monkeypatch, drift, message):
    import imagestyle.feedforward.export as ex

    real = ex._export_torchscript

    def exporter(*args, **kwargs):
        return [drift(o, ex.TOLERANCE) for o in real(*args, **kwargs)]

    monkeypatch.setattr(ex, "_export_torchscript", exporter)
    out = tmp_path / "m.torchscript"
    with pytest.raises(ValueError, match=message):
        export_model(johnson_file, "torchscript", out)
    assert sorted(p.name for p in tmp_path.iterdir()) == [johnson_file.name]  # no temporary


def test_an_export_within_the_tolerance_is_written(tmp_path: Path, johnson_file: Path,
                                                   monkeypatch):
    import imagestyle.feedforward.export as ex

    real = ex._export_torchscript
    monkeypatch.setattr(ex, "_export_torchscript",
                        lambda *a, **k: [o + 0.5 * ex.TOLERANCE for o in real(*a, **k)])
    report = export_model(johnson_file, "torchscript", tmp_path / "m.torchscript")
    assert report.path.exists()
    assert report.max_abs_diff == pytest.approx(0.5 * ex.TOLERANCE, rel=0.05)


def test_export_errors_leave_no_file(tmp_path: Path, johnson_file: Path, monkeypatch):
    with pytest.raises(ValueError, match="unknown export format"):
        export_model(johnson_file, "tflite", tmp_path / "x")
    import shared.export as ex

    monkeypatch.setattr(ex.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ValueError, match="pip install"):
        export_model(johnson_file, "onnx", tmp_path / "x.onnx")
    assert not list(tmp_path.glob("x*")) and not list(tmp_path.glob(".x*"))


def test_loaded_image_round_trip_keeps_size(tmp_path: Path, johnson_file: Path, random_png):
    src = random_png(tmp_path / "odd.png", 51, 33)
    (dst,) = stylize_files(johnson_file, [src], tmp_path / "odd_out.png")
    assert load_image(dst).shape == load_image(src).shape


def test_samples_written_in_batches_match_one_call(tmp_path: Path, texture_file: Path):
    from imagestyle.feedforward.modelfile import load_model

    net, _ = load_model(texture_file)
    paths = sample_files(texture_file, tmp_path / "b.png", size=(16, 16), seed=2, count=3, batch_size=2)
    direct = sample_textures(net, 3, (16, 16), seed=2, batch_size=3)
    for path, image in zip(paths, direct):
        assert torch.allclose(load_image(path), image, atol=1 / 255 + 1e-6)
