"""``imagestyle train | stylize | sample | export`` end to end through ``imagestyle.cli.main``,
every bad input of the feed-forward issue (one line on stderr, exit status 2, nothing clobbered),
and ``torchrun`` with two CPU processes (gloo)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

from imagestyle.cli import main

TINY = ["--image-size", "32", "--batch-size", "2", "--width", "0.125", "--pyramid-scales", "3",
        "--channels", "4", "--features", "random-multiscale", "--content-layers", "scale5",
        "--style-layers", "scale3,scale5", "--device", "cpu", "--quiet"]


@pytest.fixture(scope="module")
def work(tmp_path_factory, random_png) -> Path:
    """A photo folder, a style image, and a trained tiny stylisation and texture model."""
    root = tmp_path_factory.mktemp("ffcli")
    (root / "photos" / "sub").mkdir(parents=True)
    for i in range(4):
        random_png(root / "photos" / ("sub" if i % 2 else "") / f"p{i}.png", 40, 36 + i, i)
    (root / "photos" / "bad.jpg").write_bytes(b"not a jpeg")
    random_png(root / "style.png", 32, 32, 9)
    assert main(["train", str(root / "style.png"), "--dataset", str(root / "photos"),
                 "-o", str(root / "sty.pt"), "--steps", "2", *TINY]) == 0
    assert main(["train", "--arch", "texture-net", "--mode", "texture",
                 str(root / "style.png"), "-o", str(root / "tex.pt"), "--steps", "2", *TINY]) == 0
    return root


def _fail(argv: list[str], capsys, match: str) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert err.startswith("imagestyle: error:") and match in err, err
    return err


@pytest.mark.slow  # the module fixture trains two models
def test_train_writes_model_and_checkpoint_and_resumes(work: Path, capsys):
    assert (work / "sty.pt").exists() and (work / "sty.pt.ckpt").exists()
    argv = ["train", str(work / "style.png"), "--dataset", str(work / "photos"),
            "-o", str(work / "sty.pt"), "--steps", "3", *TINY]
    assert main([*argv, "--resume"]) == 0
    assert "resumed from" in capsys.readouterr().err


@pytest.mark.filterwarnings("ignore::FutureWarning")  # torch.jit.load is deprecated
def test_stylize_sample_export(work: Path, capsys):
    photos = sorted((work / "photos").rglob("p*.png"))
    assert main(["stylize", "--model", str(work / "sty.pt"), str(photos[0]), "-o",
                 str(work / "one.jpg"), "--device", "cpu"]) == 0
    assert Image.open(work / "one.jpg").size == Image.open(photos[0]).size
    summary = capsys.readouterr().err.strip().splitlines()
    assert summary[-1].startswith(f"imagestyle: wrote 1 image(s) to {work / 'one.jpg'} (")
    assert main(["stylize", "--model", str(work / "sty.pt"), *map(str, photos), "-o",
                 str(work / "many"), "--preserve-color", "luminance", "--batch-size", "3",
                 "-q"]) == 0
    assert capsys.readouterr().err == ""  # --quiet: no bar, no summary
    assert sorted(p.name for p in (work / "many").iterdir()) == sorted(p.name for p in photos)
    assert main(["sample", "--model", str(work / "tex.pt"), "-o", str(work / "s.png"),
                 "--size", "40x24", "--seed", "3", "--count", "2"]) == 0
    assert [Image.open(work / f"s_00{i}.png").size for i in (1, 2)] == [(40, 24)] * 2
    assert main(["export", "--model", str(work / "sty.pt"), "--format", "torchscript", "-o",
                 str(work / "sty.ts")]) == 0
    assert "verified" in capsys.readouterr().err
    # The written file, loaded by torch.jit alone, computes what the trained model computes.
    from imagestyle.feedforward.modelfile import load_model

    exported = torch.jit.load(str(work / "sty.ts"), map_location="cpu")
    net, _ = load_model(work / "sty.pt")
    x = torch.rand(2, 3, 29, 35, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        torch.testing.assert_close(exported(x), net(x), atol=1e-4, rtol=1e-4)


# (argv, a piece of the message, whether a checkpoint of another run sits at m.pt.ckpt);
# "train" cases get the tiny settings and "-o {tmp}/m.pt"; "{tmp}" is the test's folder,
# "{work}" the trained models', "{keep}" an image that must stay as it is.
FF_BAD_INPUTS = [
    pytest.param(["train", "--dataset", "{tmp}/empty"], "holds no images", False,
                 id="empty dataset"),
    pytest.param(["train", "--dataset", "{tmp}/nothing"], "holds no images", False,
                 id="dataset without images"),
    pytest.param(["train", "--dataset", "{work}/photos", "--resume"], "no checkpoint", False,
                 id="resume without checkpoint"),
    pytest.param(["train", "--dataset", "{work}/photos", "--resume", "--lr", "0.5"],
                 "settings differ from those of checkpoint", True, id="resume with other settings"),
    pytest.param(["train", "--dataset", "{work}/photos"], "checkpoint already exists at", True,
                 id="a checkpoint of another run"),
    pytest.param(["train", "--dataset", "{work}/photos", "--lr", "-1"],
                 "--lr must be positive, got -1.0", False, id="negative lr"),
    pytest.param(["train"], "--mode stylize trains on photos: give --dataset", False,
                 id="no dataset"),
    pytest.param(["train", "--dataset", "{work}/photos", "--mode", "texture"],
                 "--mode texture needs --arch texture-net", False, id="johnson texture"),
    pytest.param(["train", "--dataset", "{work}/photos", "--style-layers", "scale3:x"],
                 "argument --style-layers: bad weight", False, id="bad layer weight"),
    pytest.param(["train", "--dataset", "{work}/photos", "--model", "random-multiscale"],
                 "--model", False, id="--model is a trained model file"),
    pytest.param(["train", "--dataset", "{work}/photos", "--out", "{tmp}/m.pt"],
                 "train --out was renamed: use -o/--output", False, id="old --out"),
    pytest.param(["train", "--dataset", "{work}/photos", "--style", "{keep}"],
                 "train --style was renamed: use positional STYLE", False, id="old --style"),
    pytest.param(["train", "--dataset", "{work}/photos", "--scales", "3"],
                 "train --scales was renamed: use --pyramid-scales", False, id="old --scales"),
    pytest.param(["train", "--dataset", "{work}/photos", "--pyramid-scales", "11"],
                 "--pyramid-scales must be between 1 and 10, got 11", False,
                 id="pyramid scales out of range"),
    pytest.param(["stylize", "--model", "{work}/sty.pt", "{keep}", "{keep}", "-o",
                  "{tmp}/o.png"], "several inputs need an output folder", False,
                 id="several inputs, one output file"),
    pytest.param(["stylize", "--model", "{work}/sty.pt", "{keep}", "-o", "{tmp}/no/o.png"],
                 "output folder does not exist", False, id="stylize into a missing folder"),
    pytest.param(["sample", "--model", "{work}/tex.pt", "-o", "{tmp}/no/o.png"],
                 "output folder does not exist", False, id="sample into a missing folder"),
    pytest.param(["sample", "--model", "{work}/tex.pt", "-o", "{tmp}/o.png", "--size", "0"],
                 "argument --size: size must be N or WxH", False, id="bad sample size"),
    pytest.param(["export", "--model", "{work}/sty.pt", "--format", "torchscript", "-o",
                  "{work}/sty.pt"], "is one of the inputs", False, id="export over the model"),
    pytest.param(["stylize", "--model", "{tmp}/foreign.pt", "{keep}", "-o", "{tmp}/o.png"],
                 "not", False, id="foreign model"),
    pytest.param(["stylize", "--model", "{tmp}/truncated.pt", "{keep}", "-o", "{tmp}/o.png"],
                 "not", False, id="truncated model"),
    pytest.param(["stylize", "--model", "{keep}", "{keep}", "-o", "{tmp}/o.png"], "not", False,
                 id="image as model"),
    pytest.param(["stylize", "--model", "{work}/tex.pt", "{keep}", "-o", "{tmp}/o.png"],
                 "texture model", False, id="stylize with a texture model"),
    pytest.param(["sample", "--model", "{work}/sty.pt", "-o", "{tmp}/o.png"],
                 "stylisation model", False, id="sample with a stylisation model"),
    pytest.param(["stylize", "--model", "{work}/sty.pt", "{keep}", "-o", "{keep}"],
                 "one of the inputs", False, id="output is the input"),
    pytest.param(["export", "--model", "{tmp}/truncated.pt", "--format", "torchscript", "-o",
                  "{tmp}/o.ts"], "truncated", False, id="export a truncated model"),
]


@pytest.mark.parametrize("argv,match,checkpoint", FF_BAD_INPUTS)
def test_bad_input_is_one_line_and_clobbers_nothing(work: Path, tmp_path: Path, capsys, argv,
                                                    match, checkpoint, random_png):
    (tmp_path / "empty").mkdir()
    (tmp_path / "nothing").mkdir()
    (tmp_path / "nothing" / "a.txt").write_text("x")
    keep = random_png(tmp_path / "keep.png", 8, 8, 0)
    before = keep.read_bytes()
    (tmp_path / "foreign.pt").write_bytes(b"PK\x03\x04 definitely not ours")
    (tmp_path / "truncated.pt").write_bytes((work / "sty.pt").read_bytes()[:2000])
    if checkpoint:
        shutil.copy(work / "sty.pt.ckpt", tmp_path / "m.pt.ckpt")
    argv = [a.format(tmp=tmp_path, work=work, keep=keep) for a in argv]
    if argv[0] == "train":
        argv = ["train", str(work / "style.png"), "-o", str(tmp_path / "m.pt"),
                "--steps", "1", *TINY, *argv[1:]]
    _fail(argv, capsys, match)
    assert keep.read_bytes() == before
    assert not (tmp_path / "o.png").exists() and not (tmp_path / "o.ts").exists()
    assert not (tmp_path / "m.pt").exists()


@pytest.mark.slow
def test_torchrun_two_gloo_processes_match_one_process_with_the_global_batch(work: Path,
                                                                            tmp_path: Path):
    """Two CPU processes (gloo) under torchrun, batch 2 each, against one process with batch 4
    and the same seed: the shards are disjoint and cover the photos, DDP averages the ranks'
    gradients, and after 3 steps the weights agree."""
    from imagestyle.feedforward.modelfile import load_checkpoint, load_model
    from imagestyle.feedforward.networks import build_network
    from imagestyle.feedforward.train import TrainConfig, train
    from shared import seed_everything

    torchrun = Path(sys.executable).with_name("torchrun")
    if not torchrun.exists():
        pytest.skip("torchrun is not installed beside the interpreter")
    out = tmp_path / "ddp.pt"
    import imagestyle

    code = str(Path(imagestyle.__file__).parents[1])  # the processes import what this one does
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore",
           "PYTHONPATH": os.pathsep.join([code, *filter(None, [os.environ.get("PYTHONPATH")])])}
    worker = Path(__file__).with_name("ddp_worker.py")
    cmd = [str(torchrun), "--standalone", "--nproc-per-node", "2", str(worker), str(tmp_path),
           "train", str(work / "style.png"), "--dataset", str(work / "photos"),
           "-o", str(out), "--steps", "3", "--checkpoint-every", "2", *TINY]
    cmd.remove("--quiet")  # the summary line is wanted
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stderr.count(f"imagestyle: wrote {out} (step 3/3") == 1  # only rank 0 prints
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ddp.pt", "ddp.pt.ckpt", "rank0.pt",
                                                          "rank1.pt"]
    ckpt = load_checkpoint(tmp_path / "ddp.pt.ckpt")
    assert ckpt["step"] == 3 and ckpt["world_size"] == 2

    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in range(2)]
    photos = 4  # readable images in work/photos
    shards = [r["shard"] for r in ranks]
    assert len(shards[0]) == len(shards[1]) == photos // 2
    assert not set(shards[0]) & set(shards[1])
    assert sorted(shards[0] + shards[1]) == list(range(photos))
    assert not torch.equal(ranks[0]["batch"], ranks[1]["batch"])
    for local0, local1, synced0, synced1 in zip(ranks[0]["local"], ranks[1]["local"],
                                                ranks[0]["synced"], ranks[1]["synced"]):
        torch.testing.assert_close(synced0, synced1, rtol=0, atol=0)  # one all-reduced value
        torch.testing.assert_close(synced0, (local0 + local1) / 2, rtol=1e-5, atol=1e-9)
    assert any(not torch.allclose(a, b) for a, b in zip(ranks[0]["local"], ranks[1]["local"]))

    # One process, the global batch of 4, the same seed and steps.
    single = TrainConfig(
        styles=[str(work / "style.png")], dataset=str(work / "photos"),
        out=str(tmp_path / "one" / "one.pt"), steps=3, checkpoint_every=0, image_size=32,
        batch_size=4, width=0.125, pyramid_scales=3, channels=4, model="random-multiscale",
        content_layers=["scale5"], style_layers=["scale3", "scale5"], device="cpu", quiet=True)
    (tmp_path / "one").mkdir()
    train(single, log=lambda message: None)
    two, one = load_model(out)[0], load_model(single.out)[0]
    seed_everything(single.seed)
    start = build_network(single.arch, single.resolved().network_config()).eval()  # the initial weights, drawn as training draws them
    x = torch.rand(2, 3, 36, 40, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        y_two, y_one, y_start = two(x), one(x), start(x)
    # Biases followed by instance norm get pure rounding noise as gradient, which Adam turns
    # into steps of lr either way; they cancel in the output, which is what is compared.
    moved = float((y_one - y_start).abs().max())
    gap = float((y_two - y_one).abs().max())
    assert gap <= 1e-4 * moved, (gap, moved)  # measured: 3e-6 against 1.26


def test_train_demo_never_deletes_a_users_folder(tmp_path: Path, capsys):
    """``examples/train_demo.py --out-dir`` refuses an existing folder that is not empty (or a
    file) before writing anything, and leaves it as it was."""
    import importlib.util

    path = Path(__file__).parents[2] / "examples" / "train_demo.py"
    spec = importlib.util.spec_from_file_location("train_demo", path)
    assert spec is not None and spec.loader is not None
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    (tmp_path / "mine.txt").write_text("keep me")
    for out_dir in (tmp_path, tmp_path / "mine.txt"):
        with pytest.raises(SystemExit) as info:
            demo.main(["--out-dir", str(out_dir)])
        assert info.value.code == 2
        assert "is not an empty folder" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.txt"]
    assert (tmp_path / "mine.txt").read_text() == "keep me"


def _train_argv(work: Path, out: Path, steps: int) -> list[str]:
    return ["train", str(work / "style.png"), "--dataset", str(work / "photos"), "-o", str(out),
            "--steps", str(steps), "--checkpoint-every", "0", *TINY]


def _sigint_after_step(monkeypatch, step: int) -> None:
    """A real SIGINT (the user's first Ctrl-C) right after training step ``step``."""
    import signal

    from imagestyle.feedforward.trainer import Trainer

    real = Trainer.take_step

    def take_step(self, content):  # type: ignore[no-untyped-def]
        values = real(self, content)
        if self.step == step:
            signal.raise_signal(signal.SIGINT)
        return values

    monkeypatch.setattr(Trainer, "take_step", take_step)


def test_ctrl_c_in_train_writes_a_model_that_stylize_uses_and_exits_130(work: Path,
                                                                         tmp_path: Path, capsys,
                                                                         monkeypatch):
    from imagestyle.feedforward.modelfile import load_checkpoint

    out = tmp_path / "m.pt"
    _sigint_after_step(monkeypatch, 2)
    assert main(_train_argv(work, out, steps=6)) == 130
    err = capsys.readouterr().err
    assert f"imagestyle: interrupted; wrote the model so far to {out} (step 2/6" in err  # --quiet
    assert f"checkpoint {out}.ckpt" in err
    assert load_checkpoint(Path(f"{out}.ckpt"))["step"] == 2
    photo = sorted((work / "photos").rglob("p*.png"))[0]
    assert main(["stylize", "--model", str(out), str(photo), "-o", str(tmp_path / "s.png"),
                 "--quiet"]) == 0
    with Image.open(tmp_path / "s.png") as img, Image.open(photo) as src:
        assert img.size == src.size


def test_a_second_ctrl_c_in_train_leaves_no_partial_file(work: Path, tmp_path: Path, capsys,
                                                         monkeypatch):
    """The first Ctrl-C asks for a checkpoint; a second one while it is written aborts at once
    (exit 130) and leaves neither a half-written model nor a checkpoint."""
    import signal

    import imagestyle.feedforward.modelfile as modelfile

    def second_ctrl_c(obj, path):  # type: ignore[no-untyped-def]
        Path(path).write_bytes(b"half a file")
        signal.raise_signal(signal.SIGINT)

    _sigint_after_step(monkeypatch, 1)
    monkeypatch.setattr(modelfile.torch, "save", second_ctrl_c)
    assert main(_train_argv(work, tmp_path / "m.pt", steps=6)) == 130
    assert capsys.readouterr().err.strip().endswith("imagestyle: interrupted; no model written")
    assert list(tmp_path.iterdir()) == []


def test_a_second_ctrl_c_keeps_the_last_checkpoint_intact(work: Path, tmp_path: Path, capsys,
                                                          monkeypatch):
    """Checkpoints at step 2; Ctrl-C after step 3, and again while step 3's files are written:
    step 2's checkpoint and model are what is left, whole, and the message says so."""
    import signal

    import imagestyle.feedforward.modelfile as modelfile
    from imagestyle.feedforward.modelfile import load_checkpoint, load_model

    real_save, calls = modelfile.torch.save, [0]

    def save(obj, path):  # type: ignore[no-untyped-def]
        calls[0] += 1
        if calls[0] <= 2:  # step 2: the checkpoint and the model file
            return real_save(obj, path)
        Path(path).write_bytes(b"half a file")
        signal.raise_signal(signal.SIGINT)

    _sigint_after_step(monkeypatch, 3)
    monkeypatch.setattr(modelfile.torch, "save", save)
    out = tmp_path / "m.pt"
    assert main([*_train_argv(work, out, steps=6), "--checkpoint-every", "2"]) == 130
    err = capsys.readouterr().err.strip()
    assert err.endswith(f"imagestyle: interrupted; the last checkpoint is intact at {out}.ckpt")
    assert load_checkpoint(Path(f"{out}.ckpt"))["step"] == 2
    assert load_model(out)[1].step == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.pt", "m.pt.ckpt"]


def test_ctrl_c_in_stylize_keeps_the_images_done_and_exits_130(work: Path, tmp_path: Path,
                                                               capsys, monkeypatch, ctrl_c_at):
    import imagestyle.feedforward.stylize as stylize_module

    real = stylize_module.stylize_images
    stopping = ctrl_c_at(lambda call: real(*call[0], **call[1]), 3)  # Ctrl-C in the 3rd batch
    monkeypatch.setattr(stylize_module, "stylize_images", lambda *a, **k: stopping((a, k)))
    photos = sorted((work / "photos").rglob("p*.png"))
    out = tmp_path / "styled"
    argv = ["stylize", "--model", str(work / "sty.pt"), *map(str, photos), "-o", str(out),
            "--batch-size", "1", "--quiet"]
    assert main(argv) == 130
    err = capsys.readouterr().err
    assert f"imagestyle: interrupted; wrote 2 of {len(photos)} image(s) to {out}" in err
    written = sorted(p.name for p in out.iterdir())
    assert written == sorted(p.name for p in photos[:2])  # complete files only, no temporaries
    for name, photo in zip(written, photos):
        with Image.open(out / name) as img, Image.open(photo) as src:
            assert img.size == src.size
