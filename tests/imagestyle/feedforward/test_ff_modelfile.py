"""The model file format: round trip, and rejection of foreign, truncated and damaged files."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from imagestyle.feedforward.modelfile import (load_checkpoint, load_model, model_payload,
                                              save_payload)
from imagestyle.feedforward.networks import TextureNet, TextureNetConfig, TransformNet, TransformNetConfig


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    net = TransformNet(TransformNetConfig(width=0.125, norm="batch"))
    return save_payload(model_payload(net, "johnson", {"image_size": 32}, step=7), tmp_path / "m.pt")


def test_round_trip_restores_architecture_weights_and_settings(model_file: Path):
    net, info = load_model(model_file)
    assert isinstance(net, TransformNet) and not net.training
    assert info.arch == "johnson" and info.mode == "stylize" and info.step == 7
    assert info.network["width"] == 0.125 and info.network["norm"] == "batch"
    assert info.training == {"image_size": 32}
    torch.manual_seed(0)
    fresh = TransformNet(TransformNetConfig(width=0.125, norm="batch"))
    for k, v in fresh.state_dict().items():
        assert torch.equal(v, net.state_dict()[k])


def test_texture_mode_is_recorded(tmp_path: Path):
    net = TextureNet(TextureNetConfig(mode="texture", scales=2, channels=2))
    path = save_payload(model_payload(net, "texture-net", {}, 0), tmp_path / "t.pt")
    loaded, info = load_model(path)
    assert info.mode == "texture" and isinstance(loaded, TextureNet) and not loaded.stylize_mode


@pytest.mark.parametrize("keep", [lambda n: 10, lambda n: n // 2, lambda n: n - 30],
                         ids=["first 10 bytes", "half", "all but 30 bytes"])
def test_truncated_file_is_rejected(model_file: Path, tmp_path: Path, keep):
    data = model_file.read_bytes()
    bad = tmp_path / "cut.pt"
    bad.write_bytes(data[:keep(len(data))])
    with pytest.raises(ValueError, match="truncated|not a styletoolkit"):
        load_model(bad)


@pytest.mark.parametrize("content", [b"", b"hello world", None, {"state_dict": {}},
                                     {"format": "someone.else", "version": 1}])
def test_foreign_files_are_rejected(tmp_path: Path, content):
    path = tmp_path / "foreign.pt"
    if content is None:
        torch.save(torch.nn.Linear(2, 2).state_dict(), path)
    elif isinstance(content, dict):
        torch.save(content, path)
    else:
        path.write_bytes(content)
    with pytest.raises(ValueError):
        load_model(path)


def test_damaged_weights_and_newer_versions_are_rejected(model_file: Path, tmp_path: Path):
    data = torch.load(model_file, weights_only=True)
    data["state_dict"].pop(next(iter(data["state_dict"])))
    torch.save(data, tmp_path / "damaged.pt")
    with pytest.raises(ValueError, match="tensors do not fit"):
        load_model(tmp_path / "damaged.pt")
    data = torch.load(model_file, weights_only=True)
    data["version"] = 99
    torch.save(data, tmp_path / "future.pt")
    with pytest.raises(ValueError, match="newer"):
        load_model(tmp_path / "future.pt")


def test_model_file_is_not_a_checkpoint(model_file: Path):
    with pytest.raises(ValueError, match="not a training checkpoint"):
        load_checkpoint(model_file)
    with pytest.raises(FileNotFoundError, match="no such"):
        load_model(model_file.with_name("missing.pt"))
