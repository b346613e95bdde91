"""``audiostyle train | stylize | sample | export`` end to end through ``audiostyle.cli.main``,
and every bad input of the feed-forward audio issue: one line on stderr, exit status 2, no file
left or clobbered."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from audiostyle.cli import main
from helpers.audio import clicks, stereo_tones, tone, write_wav

RATE = 22050
TINY = ["--filters", "64", "--crop-seconds", "0.8", "--batch-size", "2", "--channels", "8",
        "--blocks", "2", "--steps", "2", "--device", "cpu", "--quiet"]


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    """A content folder (nested, two formats), a style, and a trained tiny stylisation and
    texture model."""
    root = tmp_path_factory.mktemp("audioff")
    (root / "data" / "sub").mkdir(parents=True)
    write_wav(root / "data" / "a.wav", tone(1.5, RATE), RATE)
    sf.write(str(root / "data" / "sub" / "b.flac"), stereo_tones(1.0, 44100).numpy().T, 44100)
    (root / "data" / "notes.txt").write_text("not audio")
    write_wav(root / "style.wav", clicks(2.0, RATE) * 0.8, RATE)
    assert main(["train", str(root / "style.wav"), "--dataset", str(root / "data"),
                 "-o", str(root / "sty.pt"), *TINY]) == 0
    assert main(["train", str(root / "style.wav"), "--mode", "texture",
                 "-o", str(root / "tex.pt"), *TINY]) == 0
    write_wav(root / "in.wav", tone(2.0, RATE, freqs=(300.0, 450.0)), RATE)
    sf.write(str(root / "in_stereo.flac"), stereo_tones(1.2, 48000).numpy().T, 48000)
    return root


def _fail(argv: list[str], capsys, match: str, prog: str = "audiostyle") -> str:
    if prog == "audiostyle":
        assert main(argv) == 2
    else:
        from imagestyle.cli import main as image_main
        assert image_main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert err.startswith(f"{prog}: error:") and match in err, err
    return err


def test_train_resumes(work: Path, capsys) -> None:
    assert (work / "sty.pt").exists() and (work / "sty.pt.ckpt").exists()
    argv = ["train", str(work / "style.wav"), "--dataset", str(work / "data"),
            "-o", str(work / "sty.pt"), *TINY[:-3], "--device", "cpu"]
    assert main([*argv, "--steps", "3", "--resume"]) == 0
    assert "resumed from" in capsys.readouterr().err


def test_stylize_a_file_a_stream_and_a_folder(work: Path, tmp_path: Path) -> None:
    model = str(work / "sty.pt")
    offline, streamed = tmp_path / "off.wav", tmp_path / "str.wav"
    assert main(["stylize", "--model", model, str(work / "in.wav"), "-o", str(offline),
                 "--metrics", str(tmp_path / "m.json"), "--quiet"]) == 0
    assert main(["stylize", "--model", model, str(work / "in.wav"), "-o", str(streamed),
                 "--stream", "--block-ms", "20", "--metrics", str(tmp_path / "s.json"),
                 "--quiet"]) == 0
    a, rate = sf.read(str(offline))
    b, _ = sf.read(str(streamed))
    assert rate == RATE and a.shape == b.shape == (2 * RATE,)
    assert np.abs(a - b).max() <= 2 / 32768  # equal up to the 16-bit rounding of the files
    metrics = json.loads((tmp_path / "s.json").read_text())
    assert metrics["latency_ms"] == pytest.approx(1000 * (768 + 441) / RATE)
    assert metrics["realtime_factor"] > 0 and metrics["seconds"] > 0
    folder = tmp_path / "many"
    assert main(["stylize", "--model", model, str(work / "in.wav"), str(work / "in_stereo.flac"),
                 "-o", str(folder), "--stereo", "--quiet"]) == 0
    stereo, rate = sf.read(str(folder / "in_stereo.flac"))
    assert rate == 48000 and stereo.shape == (int(1.2 * 48000), 2)


def test_sample_draws_different_texture_per_seed(work: Path, tmp_path: Path) -> None:
    outs = []
    for seed in (1, 2):
        path = tmp_path / f"t{seed}.wav"
        assert main(["sample", "--model", str(work / "tex.pt"), "--seconds", "1.5", "--seed",
                     str(seed), "-o", str(path)]) == 0
        outs.append(sf.read(str(path))[0])
    assert outs[0].shape == (int(1.5 * RATE),)
    assert np.abs(outs[0] - outs[1]).mean() > 0.1 * np.abs(outs[0]).mean()


@pytest.mark.filterwarnings("ignore::FutureWarning")  # torch.jit.load is deprecated
def test_export_torchscript(work: Path, tmp_path: Path) -> None:
    out = tmp_path / "m.ts"
    assert main(["export", "--model", str(work / "sty.pt"), "--format", "torchscript",
                 "-o", str(out)]) == 0
    loaded = torch.jit.load(str(out))
    from audiostyle.feedforward.modelfile import load_model
    net = load_model(work / "sty.pt")[0]
    assert net.config.noise_input == 16  # the default: log magnitudes, then noise channels
    x = torch.cat([torch.rand(1, 513, 20), torch.randn(1, 16, 20)], dim=1)
    assert torch.allclose(loaded(x), net(x), atol=1e-5)


def _image_model(path: Path) -> Path:
    from imagestyle.feedforward.modelfile import model_payload, save_payload
    from imagestyle.feedforward.networks import TransformNet, TransformNetConfig

    net = TransformNet(TransformNetConfig(width=0.125, residual_blocks=1))
    return save_payload(model_payload(net, "johnson", {"image_size": 24}, 1), path)


def test_bad_inputs_get_one_line_and_no_file(work: Path, tmp_path: Path, capsys) -> None:
    style, out = str(work / "style.wav"), tmp_path / "out.wav"
    (tmp_path / "empty").mkdir()
    (tmp_path / "noaudio").mkdir()
    (tmp_path / "noaudio" / "readme.txt").write_text("hello")
    _fail(["train", style, "--dataset", str(tmp_path / "empty"), "-o", str(tmp_path / "m.pt"),
           *TINY], capsys, "is empty")
    _fail(["train", style, "--dataset", str(tmp_path / "noaudio"), "-o",
           str(tmp_path / "m.pt"), *TINY], capsys, "holds no audio")
    _fail(["train", style, "--dataset", str(work / "data"), "-o", str(tmp_path / "m.pt"),
           "--warmup", "1", *TINY], capsys, "warmup scores texture crops; a stylize run has none")
    _fail(["train", style, "--mode", "texture", "-o", str(tmp_path / "m.pt"), "--level-weight",
           "-1", *TINY], capsys, "--level-weight must be finite and >= 0")
    _fail(["train", style, "--dataset", str(work / "data"), "-o", str(tmp_path / "m.pt"),
           "--loss-filters", "65", *TINY], capsys, "--loss-filters must be 0 (all) to --filters (64)")
    _fail(["train", style, "--dataset", str(work / "data"), "-o", str(tmp_path / "m.pt"),
           "--precision", "fp16", *TINY], capsys, "--precision")
    assert not (tmp_path / "m.pt").exists() and not (tmp_path / "m.pt.ckpt").exists()
    image = _image_model(tmp_path / "image.pt")
    _fail(["stylize", "--model", str(image), str(work / "in.wav"), "-o", str(out)], capsys,
          "is an image model; use it with imagestyle")
    _fail(["stylize", "--model", str(work / "sty.pt"), str(work / "in.wav"), "-o",
           str(tmp_path / "x.png")], capsys, "is an audio model; use it with audiostyle",
          prog="imagestyle")
    _fail(["stylize", "--model", str(work / "tex.pt"), str(work / "in.wav"), "-o", str(out)],
          capsys, "is a texture model")
    _fail(["sample", "--model", str(work / "sty.pt"), "--seconds", "1", "-o", str(out)],
          capsys, "is a stylisation model")
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes((work / "sty.pt").read_bytes()[:300])
    _fail(["stylize", "--model", str(corrupt), str(work / "in.wav"), "-o", str(out)], capsys,
          "truncated or damaged")
    _fail(["stylize", "--model", str(work / "sty.pt"), str(work / "in.wav"), "-o", str(out),
           "--stream", "--block-ms", "5"], capsys, "--block-ms 5 is shorter than one frame step")
    _fail(["stylize", "--model", str(work / "sty.pt"), str(work / "in.wav"), "-o",
           str(work / "in.wav")], capsys, "in.wav")
    assert not out.exists() and not (tmp_path / "m.pt").exists()
    assert not (tmp_path / "x.png").exists()
    assert sf.info(str(work / "in.wav")).frames == 2 * RATE  # the input is untouched


@pytest.mark.slow
def test_torchrun_two_gloo_processes_match_one_process_with_the_global_batch(work: Path,
                                                                            tmp_path: Path):
    """``audiostyle train`` under torchrun: two CPU processes (gloo) with one crop each end
    with the gradients of one process with both crops (DDP averages the ranks'). Adam's
    moments after the first step are compared, linear in the gradients; the weights themselves are
    not, because Adam's first step moves a weight by about the learning rate whatever the size
    of its gradient, so a gradient at rounding level can move it either way, and a second
    step's gradients would differ by more than rounding (the envelope makes some directions
    of the output layer all but gradient-free)."""
    from audiostyle.feedforward.modelfile import load_checkpoint, load_model

    torchrun = Path(sys.executable).with_name("torchrun")
    if not torchrun.exists():
        pytest.skip("torchrun is not installed beside the interpreter")
    import audiostyle

    code = str(Path(audiostyle.__file__).parents[1])  # the processes import what this one does
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore",
           "PYTHONPATH": os.pathsep.join([code, *filter(None, [os.environ.get("PYTHONPATH")])])}
    args = ["train", str(work / "style.wav"), "--dataset", str(work / "data"), *TINY[:-5],
            "--steps", "1", "--device", "cpu", "--quiet"]
    ddp, one = tmp_path / "ddp.pt", tmp_path / "one.pt"
    cmd = [str(torchrun), "--standalone", "--nproc-per-node", "2", "-m", "audiostyle",
           *args, "--batch-size", "1", "-o", str(ddp)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert load_checkpoint(f"{ddp}.ckpt")["world_size"] == 2
    assert main([*args, "--batch-size", "2", "-o", str(one)]) == 0
    moments = [load_checkpoint(f"{p}.ckpt")["optimizer"]["state"] for p in (ddp, one)]
    assert moments[0].keys() == moments[1].keys()
    for i in moments[1]:  # the output layer starts at zero: on the first step only it moves
        m_ddp, m_one = moments[0][i]["exp_avg"], moments[1][i]["exp_avg"]
        assert (m_ddp - m_one).abs().max() <= 1e-3 * m_one.abs().max()
    assert sum(float(m["exp_avg"].abs().max()) > 0 for m in moments[1].values()) >= 2
    assert load_model(ddp)[0].state_dict().keys() == load_model(one)[0].state_dict().keys()
