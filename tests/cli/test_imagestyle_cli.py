"""``imagestyle`` end to end: the CLI contract, snapshots and every bad-input case."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch
from PIL import Image

from imagestyle import memory
from imagestyle.cli import build_parser, main
from imagestyle.options import parse_layers
from shared import UserError

FAST = ["--features", "random-multiscale", "--iterations", "3", "--quiet"]


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny images: one thread is fastest


@pytest.fixture
def files(tmp_path: Path, random_png) -> dict[str, Path]:
    return {
        "content": random_png(tmp_path / "content.png", 40, 30, 1),
        "style": random_png(tmp_path / "style.jpg", 32, 32, 2),
        "grey": random_png(tmp_path / "grey.png", 24, 24, 3, mode="L"),
        "palette": random_png(tmp_path / "pal.gif", 24, 20, 4, mode="P"),
    }


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main([str(a) for a in args])
    return code, capsys.readouterr().err


def test_transfer_end_to_end(files: dict[str, Path], tmp_path: Path,
                             capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out.jpg"
    code, err = run_cli(["transfer", files["content"], files["style"], files["grey"], "-o", out,
                         "--size", "32", "--style-weights", "2,1", "--style-layers",
                         "scale3:0.5,scale7", "--content-layers", "scale5", "--init", "content",
                         *FAST], capsys)
    assert code == 0, err
    with Image.open(out) as img:
        assert img.format == "JPEG" and img.size == (32, 24)  # longest side 32, aspect kept


def test_texture_size_multiscale_and_save_every(files: dict[str, Path], tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "tex.png"
    code, err = run_cli(["texture", files["style"], files["palette"], "-o", out,
                         "--size", "40x24", "--scales", "2", "--save-every", "2",
                         "--iterations", "4", "--features", "random-multiscale", "--quiet"], capsys)
    assert code == 0, err
    with Image.open(out) as img:
        assert img.size == (40, 24)
    names = sorted(p.name for p in tmp_path.glob("tex_*.png"))
    assert names == ["tex_s1_0002.png", "tex_s1_0004.png", "tex_s2_0002.png", "tex_s2_0004.png"]
    with Image.open(tmp_path / "tex_s1_0002.png") as img:
        assert img.size == (27, 16)  # half the size, but the short side stays >= 16


def test_texture_square_size_and_summary(files: dict[str, Path], tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "t.png"
    code, err = run_cli(["texture", files["style"], "-o", out, "--size", "20",
                         "--features", "random-multiscale", "--iterations", "2"], capsys)
    assert code == 0
    assert f"wrote {out} (20x20, random-multiscale" in err
    with Image.open(out) as img:
        assert img.size == (20, 20)


@pytest.mark.parametrize("command", ["transfer", "texture"])
def test_precision_bf16_end_to_end(files: dict[str, Path], tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str],
                                   monkeypatch: pytest.MonkeyPatch, command: str) -> None:
    from imagestyle import gatys

    seen: list[str] = []
    build = gatys._build

    def spy(cfg: gatys.GatysConfig, *args: object) -> torch.nn.Module:
        seen.append(cfg.precision)
        return build(cfg, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(gatys, "_build", spy)
    out = tmp_path / "bf16.png"
    inputs = [files["content"], files["style"]] if command == "transfer" else [files["style"]]
    code, err = run_cli([command, *inputs, "-o", out, "--size", "24", "--precision", "bf16",
                         *FAST], capsys)
    assert code == 0, err
    assert seen == ["bf16"] and out.exists()


def test_precision_errors_name_the_flag(files: dict[str, Path], tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """A library error about ``precision`` reaches the user as ``--precision``."""
    from imagestyle import gatys

    def refuse(*args: object, **kwargs: object) -> None:
        raise ValueError("precision must be 'bf16' or 'fp32', got 'x'")

    monkeypatch.setattr(gatys, "_optimise_levels", refuse)
    out = tmp_path / "o.png"
    code, err = run_cli(["texture", files["style"], "-o", out, "--size", "16", *FAST], capsys)
    assert code != 0 and "--precision must be 'bf16' or 'fp32'" in err and not out.exists()


def test_texture_falls_back_to_random_multiscale_offline(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "empty-hub"))
    out = tmp_path / "t.png"
    code, err = run_cli(["texture", files["style"], "-o", out, "--size", "16",
                         "--iterations", "1"], capsys)
    assert code == 0 and "using --features random-multiscale" in err and out.exists()


def test_vgg_with_random_weights(files: dict[str, Path], tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "v.png"
    code, err = run_cli(["transfer", files["content"], files["style"], "-o", out, "--size", "24",
                         "--features", "vgg16", "--weights", "random", "--iterations", "2",
                         "--optimizer", "adam", "--pooling", "avg", "--preserve-color",
                         "histogram", "--quiet"], capsys)
    assert code == 0, err
    assert out.exists()


def _bad(args: list[object], capsys: pytest.CaptureFixture[str], out: Path,
         match: str) -> str:
    code, err = run_cli([str(a) for a in args], capsys)
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("imagestyle: error: "), err
    assert "Traceback" not in err
    assert match in lines[0], lines[0]
    assert not out.exists()
    assert not list(out.parent.glob(f".{out.name}*"))  # no temporary leftovers
    return lines[0]


@pytest.fixture(scope="module")
def wrong_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """VGG-16 weights under a name that asks for VGG-19 (written once: 60 MB)."""
    from torchvision.models.vgg import cfgs, make_layers

    path = tmp_path_factory.mktemp("weights") / "vgg16.pth"
    torch.save({f"features.{k}": v for k, v in make_layers(cfgs["D"]).state_dict().items()},
               path)
    return path


# (argv, a piece of the message); "{c}" and "{s}" are a good content and style image, "{out}"
# the output, "{tmp}" their folder, "{wrong}" a weights file of the wrong network.
BAD_INPUTS = [
    pytest.param(["transfer", "{tmp}/missing.png", "{s}", "-o", "{out}"], "no such file",
                 id="missing"),
    pytest.param(["transfer", "{c}", "{tmp}/empty.png", "-o", "{out}"], "empty file",
                 id="empty"),
    pytest.param(["transfer", "{c}", "{tmp}/notes.png", "-o", "{out}"], "not an image",
                 id="not an image"),
    pytest.param(["transfer", "{c}", "{tmp}/trunc.png", "-o", "{out}"], "cannot read image",
                 id="truncated"),
    pytest.param(["transfer", "{c}", "{s}", "-o", "{out}", "--features", "random-multiscale",
                  "--style-layers", "relu1_1"], "valid layers: scale3", id="unknown style layer"),
    pytest.param(["transfer", "{c}", "{s}", "-o", "{out}", "--weights", "random",
                  "--content-layers", "relu9_1"], "valid layers: conv1_1",
                 id="unknown content layer"),
    pytest.param(["transfer", "{c}", "{s}", "{s}", "-o", "{out}", "--style-weights", "1,2,3"],
                 "3 weights for 2 style images", id="blend weights"),
    pytest.param(["transfer", "{c}", "{s}", "-o", "{c}"], "is one of the inputs",
                 id="output is the content"),
    pytest.param(["texture", "{s}", "-o", "{s}"], "is one of the inputs",
                 id="output is the style"),
    pytest.param(["transfer", "{c}", "{s}", "-o", "{out}", "--init", "{tmp}/x.png"],
                 "no such file", id="missing init"),
    pytest.param(["transfer", "{c}", "{s}", "-o", "{out}", "--weights", "{wrong}"],
                 "do not match vgg19", id="wrong weights"),
    pytest.param(["transfer", "{c}", "{s}", "-o", "{out}", "--weights", "{tmp}/nope.pth"],
                 "weights file not found", id="missing weights"),
    pytest.param(["transfer", "{c}", "{s}", "-o", "{tmp}/out.xyz"],
                 "unsupported output extension", id="bad suffix"),
    pytest.param(["transfer", "{c}", "{s}", "-o", "{tmp}/nodir/o.png"], "folder does not exist",
                 id="no folder"),
    pytest.param(["texture", "{s}", "-o", "{out}", "--size", "0"], "--size",
                 id="bad size"),
    pytest.param(["texture", "{s}", "-o", "{out}", "--init", "content"],
                 "no content image: --init must be 'noise' or an image", id="texture init content"),
    pytest.param(["texture", "{s}", "-o", "{out}", "--features", "random-multiscale",
                  "--preserve-color", "luminance"], "--init PATH", id="texture luminance"),
    pytest.param(["transfer", "{c}", "{s}", "-o", "{out}", "--style-layers", "relu1_1:x"],
                 "argument --style-layers: bad weight", id="bad layer weight"),
    pytest.param(["texture", "{s}", "-o", "{out}", "--style-layers", "scale3,scale3"],
                 "argument --style-layers: layer scale3 is given twice", id="repeated layer"),
    pytest.param(["transfer", "{c}", "{s}", "-o", "{out}", "--scales", "0"], "--scales must be",
                 id="bad scales"),
    pytest.param(["transfer", "{c}", "{s}", "-o", "{out}", "--lr", "-1"],
                 "--lr must be positive, got -1.0", id="bad lr"),
    pytest.param(["transfer", "{c}", "{s}", "-o", "{out}", "--style-scale", "0"],
                 "--style-scale must be positive", id="bad style scale"),
    pytest.param(["transfer", "{c}", "{s}", "-o", "{out}", "--device", "tpu"], "--device",
                 id="bad device"),
    pytest.param(["texture", "{s}", "-o", "{out}", "--precision", "fp16"],
                 "argument --precision: invalid choice: 'fp16'", id="bad precision"),
    pytest.param(["texture", "{s}", "-o", "{out}", "--style-weight", "0"],
                 "--style-weight is 0: there is nothing to optimise", id="zero style weight"),
    pytest.param(["transfer", "{c}", "{s}", "-o", "{out}", "--model", "random-multiscale"],
                 "--model", id="--model is a trained model file, not a feature network"),
]


@pytest.mark.parametrize("args,match", BAD_INPUTS)
def test_bad_input(files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str],
                   request: pytest.FixtureRequest, args: list[str], match: str) -> None:
    out = tmp_path / "bad.png"
    c = files["content"]
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "notes.png").write_text("not an image")
    (tmp_path / "trunc.png").write_bytes(c.read_bytes()[:200])
    places = dict(c=c, s=files["style"], out=out, tmp=tmp_path)
    if any("{wrong}" in a for a in args):
        places["wrong"] = request.getfixturevalue("wrong_weights")
    _bad([a.format(**places) for a in args] + ["--iterations", "3", "--quiet"], capsys, out,
         match)


@pytest.mark.parametrize("weights", [[], ["--weights", "random"]], ids=["multiscale", "vgg19"])
def test_too_large_for_memory(files: dict[str, Path], tmp_path: Path,
                              capsys: pytest.CaptureFixture[str],
                              monkeypatch: pytest.MonkeyPatch, weights: list[str]) -> None:
    """Estimated up front, with a size that would fit."""
    monkeypatch.setattr(memory, "available_bytes", lambda device: 200 * 2**20)
    out = tmp_path / "bad.png"
    model = [*FAST] if not weights else [*weights, "--quiet"]
    line = _bad(["transfer", files["content"], files["style"], "-o", out, "--size", "4000",
                 *model], capsys, out, "would fit")
    assert re.search(r"; --size \d+ would fit; Adam needs less than L-BFGS \(--optimizer adam\)$",
                     line), line


@pytest.mark.parametrize("pooling", ["avg", "max"])
def test_pooling_reaches_the_network(files: dict[str, Path], tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str],
                                     monkeypatch: pytest.MonkeyPatch, pooling: str) -> None:
    import imagestyle.gatys as gatys

    built: list[torch.nn.Module] = []
    build = gatys._build

    def spy(*args: object, **kwargs: object) -> torch.nn.Module:
        built.append(build(*args, **kwargs))  # type: ignore[arg-type]
        return built[-1]

    monkeypatch.setattr(gatys, "_build", spy)
    out = tmp_path / f"{pooling}.png"
    code, err = run_cli(["texture", files["style"], "-o", out, "--size", "24", "--features",
                         "vgg19", "--weights", "random", "--style-layers", "relu1_1,relu3_1",
                         "--pooling", pooling, "--iterations", "2", "--quiet"], capsys)
    assert code == 0, err
    kinds = {type(m) for m in built[0].modules()}
    chosen, other = ((torch.nn.AvgPool2d, torch.nn.MaxPool2d) if pooling == "avg"
                     else (torch.nn.MaxPool2d, torch.nn.AvgPool2d))
    assert chosen in kinds and other not in kinds
    # The same image through the other pooling gives other relu3_1 features.
    x = torch.rand(1, 3, 24, 24, generator=torch.Generator().manual_seed(0))
    swapped = gatys._build(gatys.GatysConfig(model="vgg19", weights="random",
                                             pooling="max" if pooling == "avg" else "avg",
                                             quiet=True), ["relu3_1"], torch.device("cpu"))
    with torch.no_grad():
        assert not torch.allclose(built[0](x)["relu3_1"], swapped(x)["relu3_1"])


@pytest.mark.parametrize("command", ["transfer", "train"])
def test_failing_loss_is_one_line_and_writes_nothing(files: dict[str, Path], tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str],
                                                     failing_loss: tuple[str, ...],
                                                     command: str, random_png) -> None:
    """A NaN loss or an out-of-memory error: exit 1, one line, no traceback, no file."""
    before = set(tmp_path.iterdir())
    if command == "transfer":
        args = ["transfer", files["content"], files["style"], "-o", tmp_path / "out.png",
                "--size", "24", *FAST]
    else:
        photos = tmp_path / "photos"
        photos.mkdir()
        for i in range(2):
            random_png(photos / f"p{i}.png", 36, 32, 10 + i)
        before = set(tmp_path.iterdir())
        args = ["train", files["style"], "--dataset", photos, "-o",
                tmp_path / "m.pt", "--steps", "2", "--image-size", "24", "--batch-size", "2",
                "--width", "0.125", "--features", "random-multiscale", "--content-layers",
                "scale5", "--style-layers", "scale3,scale5", "--device", "cpu", "--quiet"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code, err = run_cli(args, capsys)
    # Python prints warnings on stderr: one would add lines to the one-line error.
    shown = [w for w in caught if not issubclass(w.category, DeprecationWarning)]
    assert not shown, [str(w.message) for w in shown]
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("imagestyle: error: "), err
    assert "Traceback" not in err
    for needle in failing_loss:
        assert needle in lines[0], lines[0]
    assert set(tmp_path.iterdir()) == before


def test_parse_layers() -> None:
    assert parse_layers("relu1_1:0.5, relu2_1") == (["relu1_1", "relu2_1"],
                                                     {"relu1_1": 0.5, "relu2_1": 1.0})
    assert parse_layers("relu4_2") == (["relu4_2"], None)
    for bad in ("a,a", "a:x", "a:-1", ":2", " , "):
        with pytest.raises(ValueError):
            parse_layers(bad)


def test_one_layer_grammar_and_one_meaning_per_flag() -> None:
    """``--content-layers``/``--style-layers`` read ``NAME[:WEIGHT],...`` in transfer, texture
    and train; ``--features`` is the feature network there, ``--model`` a trained model file in
    stylize, sample and export; every subcommand writes to ``-o/--output``; ``--scales`` is the
    coarse-to-fine levels of transfer and texture, train's pyramid is ``--pyramid-scales``."""
    parser = build_parser()
    common = {"transfer": ["c.png", "s.png", "-o", "o.png"], "texture": ["s.png", "-o", "o.png"],
              "train": ["s.png", "-o", "m.pt"]}
    for command, argv in common.items():
        args = parser.parse_args([command, *argv, "--features", "vgg16", "--style-layers",
                                  "relu1_2:2,relu2_2"])
        assert args.features == "vgg16" and args.style == ["s.png"]
        assert args.output == ("m.pt" if command == "train" else "o.png")
        assert args.style_layers == (["relu1_2", "relu2_2"], {"relu1_2": 2.0, "relu2_2": 1.0})
        if command != "texture":
            args = parser.parse_args([command, *argv, "--content-layers", "relu3_3"])
            assert args.content_layers == (["relu3_3"], None)
        with pytest.raises(UserError, match="--model"):
            parser.parse_args([command, *argv, "--model", "vgg16"])
    for argv in (["stylize", "--model", "m.pt", "in.png", "-o", "o.png"],
                 ["sample", "--model", "m.pt", "-o", "o.png"],
                 ["export", "--model", "m.pt", "--format", "onnx", "-o", "m.onnx"]):
        args = parser.parse_args(argv)
        assert args.model == "m.pt" and args.output.startswith(("o.png", "m.onnx"))
        with pytest.raises(UserError, match="--features"):
            parser.parse_args([*argv, "--features", "vgg16"])
    assert parser.parse_args(["texture", "s.png", "-o", "o.png", "--scales", "2"]).scales == 2
    train = parser.parse_args(["train", "s.png", "-o", "m.pt", "--pyramid-scales", "4"])
    assert train.pyramid_scales == 4 and not hasattr(train, "scales")


def _model_file(path: Path, texture: bool) -> Path:
    """An untrained tiny generator saved as a model file trained at 24 x 24 (sizes need no
    training)."""
    from imagestyle.feedforward.modelfile import model_payload, save_payload
    from imagestyle.feedforward.networks import (TextureNet, TextureNetConfig, TransformNet,
                                                 TransformNetConfig)

    torch.manual_seed(0)
    if texture:
        net = TextureNet(TextureNetConfig(mode="texture", scales=2, channels=2))
        arch = "texture-net"
    else:
        net, arch = TransformNet(TransformNetConfig(width=0.125, residual_blocks=1)), "johnson"
    return save_payload(model_payload(net, arch, {"image_size": 24}, 1), path)


# (command, --size, the output's (W, H)). The inputs: content 40 x 30, first style 48 x 24 (the
# second, 24 x 40, must not set the aspect), stylize input 30 x 45, sample model trained at 24 x 24.
SIZE_CASES = [
    pytest.param("transfer", "32", (32, 24), id="transfer N: content's aspect"),
    pytest.param("texture", "32", (32, 16), id="texture N: first style's aspect"),
    pytest.param("stylize", "20", (13, 20), id="stylize N: input's aspect"),
    pytest.param("sample", "20", (20, 20), id="sample N: training size's aspect (square)"),
    pytest.param("transfer", "20x28", (20, 28), id="transfer WxH: exactly"),
    pytest.param("texture", "20x28", (20, 28), id="texture WxH: exactly"),
    pytest.param("stylize", "20x28", (20, 28), id="stylize WxH: exactly"),
    pytest.param("sample", "20x28", (20, 28), id="sample WxH: exactly"),
]


@pytest.mark.parametrize("command,size,expected", SIZE_CASES)
def test_size_n_is_the_longest_side_in_every_subcommand(tmp_path: Path, random_png, command: str,
                                                        size: str, expected: tuple[int, int]):
    """``--size N``: the output's longest side is N with the command's natural aspect;
    ``--size WxH``: exactly W x H."""
    content = random_png(tmp_path / "content.png", 40, 30, 1)
    styles = [random_png(tmp_path / "wide.png", 48, 24, 2),
              random_png(tmp_path / "tall.png", 24, 40, 3)]
    out = tmp_path / "out.png"
    argv = {
        "transfer": ["transfer", content, styles[0], *FAST[:2], "--iterations", "1"],
        "texture": ["texture", *styles, *FAST[:2], "--iterations", "1"],
        "stylize": ["stylize", "--model", _model_file(tmp_path / "j.pt", texture=False),
                    random_png(tmp_path / "photo.png", 30, 45, 4), "--device", "cpu"],
        "sample": ["sample", "--model", _model_file(tmp_path / "t.pt", texture=True),
                   "--device", "cpu"],
    }[command]
    assert main([str(a) for a in argv] + ["-o", str(out), "--size", size, "--quiet"]) == 0
    with Image.open(out) as img:
        assert img.size == expected


def _subcommand_options(parser: argparse.ArgumentParser) -> dict[str, dict[str, argparse.Action]]:
    """``{subcommand: {option string: action}}`` of a parser with subcommands."""
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {name: {o: a for a in p._actions for o in a.option_strings}
            for name, p in sub.choices.items()}


def test_size_and_quiet_help_say_the_same_in_every_subcommand() -> None:
    """``--size``: "N: longest side N (aspect of ...); WxH: exactly W x H" wherever it is taken;
    ``--quiet``: the same words in every subcommand of ``imagestyle`` and ``audiostyle``."""
    from audiostyle.cli import build_parser as audio_parser

    image = _subcommand_options(build_parser())
    sizes = {name: opts["--size"].help for name, opts in image.items() if "--size" in opts}
    assert set(sizes) == {"transfer", "texture", "stylize", "sample"}
    for name, text in sizes.items():
        assert re.fullmatch(r"output size; N: longest side N \(aspect of [^)]+\); WxH: exactly "
                            r"W x H \(default: [^)]+\)", text or ""), (name, text)
    audio = _subcommand_options(audio_parser())
    quiet = {f"{tool} {name}": opts["--quiet"].help
             for tool, options in (("imagestyle", image), ("audiostyle", audio))
             for name, opts in options.items() if "--quiet" in opts}
    assert len(quiet) == 10 and len(set(quiet.values())) == 1, quiet
    assert "no progress bar or summary" in next(iter(quiet.values()))


def test_help_states_defaults_and_subcommands(capsys: pytest.CaptureFixture[str]) -> None:
    parser = build_parser()
    with pytest.raises(SystemExit):
        parser.parse_args(["transfer", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for default in ("(default: 5)", "(default: 100)", "(default: 0.001)", "(default: 1000)",
                    "(default: 512)", "(default: lbfgs)", "(default: noise)",
                    "--precision {fp32,bf16}", "(default: fp32)",
                    "relu4_2", "relu1_1,relu2_1,relu3_1,relu4_1,relu5_1"):
        assert default in text, default


@pytest.mark.slow
def test_python_dash_m(files: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "m.png"
    proc = subprocess.run(
        [sys.executable, "-m", "imagestyle", "texture", str(files["style"]), "-o", str(out),
         "--size", "16", *FAST[:4], "--iterations", "1", "--quiet"],
        capture_output=True, text=True, timeout=120,
        env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0, proc.stderr
    assert out.exists()
    bad = subprocess.run([sys.executable, "-m", "imagestyle", "texture", "nope.png", "-o",
                          str(tmp_path / "n.png")], capture_output=True, text=True, timeout=120,
                         env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"})
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1


def test_ctrl_c_writes_best_so_far_and_exits_130(files: dict[str, Path], tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import imagestyle.gatys as gatys
    from shared import optimize

    def interrupted(x0: torch.Tensor, loss_fn, config, **kwargs):  # type: ignore[no-untyped-def]
        def stop(it: int, x: torch.Tensor, loss: float) -> None:
            raise KeyboardInterrupt  # as if Ctrl-C arrived after the first iteration

        kwargs.update(callback=stop, callback_every=1)
        return optimize(x0, loss_fn, config, **kwargs)

    monkeypatch.setattr(gatys, "optimize", interrupted)
    out = tmp_path / "partial.png"
    code, err = run_cli(["texture", files["style"], "-o", out, "--size", "40", "--scales", "2",
                         "--features", "random-multiscale", "--iterations", "5", "--quiet"], capsys)
    assert code == 130
    assert "interrupted; wrote the best result so far" in err and "1 iterations" in err
    with Image.open(out) as img:
        assert img.size == (40, 40)  # stopped at the 20 px level, written at the full size


def test_offline_imagenet_is_one_line(files: dict[str, Path], tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import torchvision

    def offline(self: object, progress: bool = False, **kwargs: object) -> None:
        print('Downloading: "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth"')
        raise OSError("Name or service not known")

    monkeypatch.setattr(torchvision.models.VGG19_Weights.IMAGENET1K_V1.__class__,
                        "get_state_dict", offline)
    out = tmp_path / "o.png"
    code = main(["transfer", str(files["content"]), str(files["style"]), "-o", str(out),
                 "--size", "16", "--quiet"])
    captured = capsys.readouterr()
    assert code == 2 and captured.out == "" and not out.exists()
    assert captured.err.count("\n") == 1 and "--weights PATH.pth" in captured.err
