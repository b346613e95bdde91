"""Training: the loss goes down, checkpoints round-trip, resume is exact, Ctrl-C checkpoints."""

from __future__ import annotations

import dataclasses
import signal
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from imagestyle.feedforward.modelfile import load_checkpoint, load_model
from imagestyle.feedforward.train import train


def _weights(path: Path) -> dict[str, torch.Tensor]:
    return load_model(path)[0].state_dict()


@pytest.mark.slow
def test_a_few_steps_lower_the_loss(tmp_path: Path, make_config):
    # Two square 32 px photos and batch 2: every step sees the same batch, so losses compare.
    folder = tmp_path / "two"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(2):
        Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    result = train(make_config(dataset=str(folder), steps=8))
    totals = [v["total"] for v in result.losses]
    assert len(totals) == 8 and set(result.losses[0]) >= {"total", "content", "style"}
    assert min(totals[-3:]) < 0.5 * totals[0]


def test_texture_mode_trains_without_a_dataset(make_config):
    result = train(make_config(arch="texture-net", mode="texture", dataset=None, steps=3))
    assert result.step == 3 and "content" not in result.losses[0]
    net, info = load_model(result.model_path)
    assert info.mode == "texture" and info.training["image_size"] == 32


def test_checkpoint_holds_everything_needed_to_resume(make_config):
    config = make_config(steps=3, checkpoint_every=2)
    result = train(config)
    ckpt = load_checkpoint(result.checkpoint_path)
    assert ckpt["step"] == 3 and ckpt["config"]["image_size"] == 32
    assert {"torch", "numpy", "python"} <= set(ckpt["rng"])
    assert ckpt["optimizer"]["state"]  # Adam moments
    (ckpt_epoch, ckpt_batch) = ckpt["epoch"], ckpt["batch_in_epoch"]
    assert (ckpt_epoch, ckpt_batch) == (0, 3)  # 6 photos, batch 2: the 3 batches of epoch 0
    for k, v in _weights(result.model_path).items():
        assert torch.equal(v, ckpt["model"]["state_dict"][k])


@pytest.mark.parametrize("arch", ["johnson", "texture-net"])
def test_resume_matches_an_uninterrupted_run(tmp_path: Path, make_config, arch):
    straight = train(make_config(arch=arch, steps=5, out=str(tmp_path / "straight.pt")))
    first = make_config(arch=arch, steps=2, out=str(tmp_path / "split.pt"))
    assert train(first).step == 2
    resumed = train(dataclasses.replace(first, steps=5, resume=True))
    assert resumed.step == 5 and len(resumed.losses) == 3
    for mine, theirs in zip(resumed.losses, straight.losses[2:]):
        assert mine == theirs
    a, b = _weights(straight.model_path), _weights(resumed.model_path)
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_ctrl_c_writes_a_checkpoint_and_resume_continues(tmp_path: Path, make_config):
    def interrupt(step, values):
        if step == 2:
            signal.raise_signal(signal.SIGINT)

    config = make_config(steps=6)
    result = train(config, on_step=interrupt)
    assert result.interrupted and result.step == 2
    assert load_checkpoint(result.checkpoint_path)["step"] == 2
    assert train(dataclasses.replace(config, resume=True)).step == 6


def test_checkpoints_from_before_the_pyramid_scales_rename_still_resume(make_config):
    from imagestyle.feedforward.config import check_resumable

    config = make_config(arch="texture-net").resolved()
    old = dataclasses.asdict(config)
    old["scales"] = old.pop("pyramid_scales")  # how older checkpoints stored it
    check_resumable(old, config, Path("old.ckpt"))  # no difference
    old["scales"] += 1
    with pytest.raises(ValueError, match="pyramid_scales 4 -> 3"):
        check_resumable(old, config, Path("old.ckpt"))


def test_resume_errors(tmp_path: Path, make_config):
    config = make_config(steps=2)
    with pytest.raises(ValueError, match="no checkpoint"):
        train(dataclasses.replace(config, resume=True))
    train(config)
    before = Path(config.out).read_bytes()
    with pytest.raises(ValueError, match="already exists"):
        train(config)
    with pytest.raises(ValueError, match="settings differ.*image_size"):
        train(dataclasses.replace(config, image_size=24, steps=4, resume=True))
    assert Path(config.out).read_bytes() == before  # nothing clobbered


# (overrides, the exception, a piece of its message): the library names parameters, never flags.
@pytest.mark.parametrize("overrides,error,message", [
    pytest.param(dict(dataset="{tmp}/empty"), ValueError, "holds no images", id="empty dataset"),
    pytest.param(dict(dataset=None), ValueError, "give dataset", id="no dataset"),
    pytest.param(dict(mode="texture"), ValueError, "needs arch texture-net", id="johnson texture"),
    pytest.param(dict(arch="texture-net", mode="texture", dataset=None, epochs=1, steps=None),
                 ValueError, "no epochs", id="texture epochs"),
    pytest.param(dict(styles=["{tmp}/nope.png"]), FileNotFoundError, "no such file",
                 id="missing style"),
    pytest.param(dict(batch_size=7), ValueError, "fewer than one batch", id="batch too large"),
    pytest.param(dict(out="{tmp}/missing/m.pt"), ValueError, "out folder does not exist",
                 id="no output folder"),
    pytest.param(dict(out="{tmp}/style.png"), ValueError, "is one of the inputs",
                 id="output is the style"),
    pytest.param(dict(lr=-1.0), ValueError, "^lr must be positive, got -1.0$", id="negative lr"),
    pytest.param(dict(workers=-1), ValueError, "^workers must be >= 0", id="negative workers"),
    pytest.param(dict(style_layer_weights={"scale9": 1.0}), ValueError,
                 "style_layer_weights name layers that are not style_layers: scale9",
                 id="weight of another layer"),
])
def test_bad_settings_are_value_errors_naming_the_parameter(tmp_path: Path, make_config,
                                                            overrides, error, message):
    (tmp_path / "empty").mkdir()

    def place(value):
        if isinstance(value, str):
            return value.format(tmp=tmp_path)
        if isinstance(value, list):
            return [place(v) for v in value]
        return value

    with pytest.raises(error, match=message) as info:
        train(make_config(**{k: place(v) for k, v in overrides.items()}))
    assert "--" not in str(info.value)
    assert not list(tmp_path.glob("*.pt*"))


def test_a_crash_while_writing_never_corrupts_the_last_checkpoint(make_config, monkeypatch):
    config = make_config(steps=2)
    result = train(config)
    good = result.checkpoint_path.read_bytes()
    import imagestyle.feedforward.modelfile as modelfile

    def dying_save(obj, path):
        Path(path).write_bytes(b"half a file")
        raise KeyboardInterrupt  # killed mid-write

    monkeypatch.setattr(modelfile.torch, "save", dying_save)
    with pytest.raises(KeyboardInterrupt):
        train(dataclasses.replace(config, steps=3, resume=True))
    assert result.checkpoint_path.read_bytes() == good
    assert load_checkpoint(result.checkpoint_path)["step"] == 2
    assert not [p for p in result.checkpoint_path.parent.iterdir() if ".tmp" in p.name]


def test_layer_weights_reach_the_loss(tmp_path: Path, make_config):
    """``content_layer_weights`` and ``style_layer_weights`` (``--content-layers scale5:2``)
    scale their layers' terms; weights of 1 change nothing."""
    def first_step(name: str, **weights) -> dict[str, float]:
        return train(make_config(out=str(tmp_path / f"{name}.pt"), steps=1, **weights)).losses[0]

    plain = first_step("plain")
    ones = first_step("ones", content_layer_weights={"scale5": 1.0},
                      style_layer_weights={"scale3": 1.0, "scale5": 1.0})
    assert ones == plain
    doubled = first_step("doubled", content_layer_weights={"scale5": 2.0},
                         style_layer_weights={"scale3": 2.0, "scale5": 2.0})
    assert doubled["content"] == pytest.approx(2 * plain["content"], rel=1e-5)
    assert doubled["style"] == pytest.approx(2 * plain["style"], rel=1e-5)


def test_the_generator_is_built_as_model_files_build_it(make_config):
    """One build path: a run's generator and a model file's both come from ``build_network``
    with the config's architecture settings (``TrainConfig`` builds nothing itself)."""
    from imagestyle.feedforward.networks import build_network, network_config
    from imagestyle.feedforward.train import TrainConfig

    assert not hasattr(TrainConfig, "network")
    for config in (make_config(), make_config(arch="texture-net", mode="texture", dataset=None)):
        c = config.resolved()
        stored = network_config(build_network(c.arch, c.network_config()))  # a model file's
        assert {k: stored[k] for k in c.network_config()} == c.network_config()
        assert network_config(build_network(c.arch, stored)) == stored
