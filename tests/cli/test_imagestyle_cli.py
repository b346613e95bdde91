"""``imagestyle`` end to end: the CLI contract, snapshots and every bad-input case."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from imagestyle import memory
from imagestyle.cli import build_parser, main, parse_layers
from shared import UserError

FAST = ["--model", "random-multiscale", "--iterations", "3", "--quiet"]


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny images: one thread is fastest, and immune to busy machines
    yield
    torch.set_num_threads(threads)


def _png(path: Path, w: int, h: int, seed: int, mode: str = "RGB") -> Path:
    rng = np.random.default_rng(seed)
    arr = (rng.random((h, w, 3)) * 255).astype(np.uint8)
    img = Image.fromarray(arr, "RGB")
    if mode != "RGB":
        img = img.convert(mode)
    img.save(path)
    return path


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    return {
        "content": _png(tmp_path / "content.png", 40, 30, 1),
        "style": _png(tmp_path / "style.jpg", 32, 32, 2),
        "grey": _png(tmp_path / "grey.png", 24, 24, 3, mode="L"),
        "palette": _png(tmp_path / "pal.gif", 24, 20, 4, mode="P"),
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
                         "--iterations", "4", "--model", "random-multiscale", "--quiet"], capsys)
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
                         "--model", "random-multiscale", "--iterations", "2"], capsys)
    assert code == 0
    assert f"wrote {out} (20x20, random-multiscale" in err
    with Image.open(out) as img:
        assert img.size == (20, 20)


def test_texture_falls_back_to_random_multiscale_offline(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "empty-hub"))
    out = tmp_path / "t.png"
    code, err = run_cli(["texture", files["style"], "-o", out, "--size", "16",
                         "--iterations", "1"], capsys)
    assert code == 0 and "using --model random-multiscale" in err and out.exists()


def test_vgg_with_random_weights(files: dict[str, Path], tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "v.png"
    code, err = run_cli(["transfer", files["content"], files["style"], "-o", out, "--size", "24",
                         "--model", "vgg16", "--weights", "random", "--iterations", "2",
                         "--optimizer", "adam", "--pooling", "avg", "--preserve-color",
                         "histogram", "--quiet"], capsys)
    assert code == 0, err
    assert out.exists()


def _bad(args: list[object], capsys: pytest.CaptureFixture[str], out: Path,
         match: str) -> None:
    code, err = run_cli([str(a) for a in args], capsys)
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("imagestyle: error: "), err
    assert "Traceback" not in err
    assert match in lines[0], lines[0]
    assert not out.exists()
    assert not list(out.parent.glob(f".{out.name}*"))  # no temporary leftovers


def test_bad_inputs(files: dict[str, Path], tmp_path: Path,
                    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "bad.png"
    c, s = files["content"], files["style"]
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    truncated = tmp_path / "trunc.png"
    truncated.write_bytes(c.read_bytes()[:200])
    wrong = tmp_path / "vgg16.pth"
    from torchvision.models.vgg import cfgs, make_layers

    torch.save({f"features.{k}": v for k, v in make_layers(cfgs["D"]).state_dict().items()},
               wrong)
    cases = [
        (["transfer", tmp_path / "missing.png", s, "-o", out], "no such file"),
        (["transfer", c, empty, "-o", out], "empty file"),
        (["transfer", c, text, "-o", out], "not an image"),
        (["transfer", c, truncated, "-o", out], "cannot read image"),
        (["transfer", c, s, "-o", out, "--model", "random-multiscale", "--style-layers",
          "relu1_1"], "valid layers: scale3"),
        (["transfer", c, s, "-o", out, "--weights", "random", "--content-layers", "relu9_1"],
         "valid layers: conv1_1"),
        (["transfer", c, s, s, "-o", out, "--style-weights", "1,2,3"],
         "3 weights for 2 style images"),
        (["transfer", c, s, "-o", c], "is one of the inputs"),
        (["texture", s, "-o", s], "is one of the inputs"),
        (["transfer", c, s, "-o", out, "--init", out.with_name("x.png")], "no such file"),
        (["transfer", c, s, "-o", out, "--weights", wrong], "do not match vgg19"),
        (["transfer", c, s, "-o", out, "--weights", tmp_path / "nope.pth"],
         "weights file not found"),
        (["transfer", c, s, "-o", tmp_path / "out.xyz"], "unsupported output extension"),
        (["transfer", c, s, "-o", tmp_path / "nodir" / "o.png"], "folder does not exist"),
        (["texture", s, "-o", out, "--size", "0"], "invalid size"),
        (["texture", s, "-o", out, "--init", "content"], "no content image"),
        (["texture", s, "-o", out, "--model", "random-multiscale", "--preserve-color",
          "luminance"], "--init PATH"),
        (["transfer", c, s, "-o", out, "--style-layers", "relu1_1:x"], "bad weight"),
        (["transfer", c, s, "-o", out, "--scales", "0"], "scales must be"),
        (["transfer", c, s, "-o", out, "--device", "tpu"], "device"),
        (["texture", s, "-o", out, "--style-weight", "0"], "nothing to optimise"),
    ]
    for args, match in cases:
        _bad([*args, "--iterations", "3", "--quiet"], capsys, out, match)
    # Too large for memory: estimated up front, with a size that would fit.
    monkeypatch.setattr(memory, "available_bytes", lambda device: 200 * 2**20)
    _bad(["transfer", c, s, "-o", out, "--size", "4000", *FAST], capsys, out, "would fit")
    _bad(["transfer", c, s, "-o", out, "--size", "4000", "--weights", "random", "--quiet"],
         capsys, out, "would fit")


def test_parse_layers() -> None:
    assert parse_layers("relu1_1:0.5, relu2_1", "--x") == (["relu1_1", "relu2_1"],
                                                            {"relu1_1": 0.5, "relu2_1": 1.0})
    assert parse_layers("relu4_2", "--x") == (["relu4_2"], None)
    with pytest.raises(UserError):
        parse_layers("a,a", "--x")


def test_help_states_defaults_and_subcommands(capsys: pytest.CaptureFixture[str]) -> None:
    parser = build_parser()
    with pytest.raises(SystemExit):
        parser.parse_args(["transfer", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for default in ("(default: 5)", "(default: 100)", "(default: 0.001)", "(default: 1000)",
                    "(default: 512)", "(default: lbfgs)", "(default: noise)",
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
                         "--model", "random-multiscale", "--iterations", "5", "--quiet"], capsys)
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
