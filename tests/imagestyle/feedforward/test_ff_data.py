"""The training-image folder: recursive search, unreadable files skipped, deterministic crops."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from imagestyle.feedforward.data import (ImageFolderDataset, ResumableSampler, batches_per_epoch,
                                         find_images, resize_crop)


def test_finds_images_recursively_and_counts_unreadable_ones(photo_dir: Path, capsys):
    good, bad = find_images(photo_dir)
    assert len(good) == 6 and [p.name for p in bad] == ["broken.png"]
    assert any("deeper" in str(p) for p in good)
    ds = ImageFolderDataset(photo_dir, 32)
    assert len(ds) == 6 and ds.skipped == 1
    assert "skipped 1 unreadable" in capsys.readouterr().err


def test_empty_or_imageless_folders_are_value_errors(tmp_path: Path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="holds no images"):
        find_images(tmp_path / "empty")
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "a.jpg").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="none of the 1 image files"):
        find_images(tmp_path / "junk")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        find_images(tmp_path / "missing")


def test_items_are_square_crops_depending_only_on_seed_epoch_index(photo_dir: Path):
    ds = ImageFolderDataset(photo_dir, 24, seed=5, log=False)
    a = ds[3]
    assert a.shape == (3, 24, 24) and 0 <= float(a.min()) and float(a.max()) <= 1
    assert torch.equal(a, ImageFolderDataset(photo_dir, 24, seed=5, log=False)[3])
    ds.set_epoch(1)
    assert not torch.equal(a, ds[3])  # photo3 is 32x50: another epoch, another crop


def test_resize_crop_scales_the_shorter_side():
    img = torch.rand(1, 3, 20, 60)
    out = resize_crop(img, 10, np.random.default_rng(0))
    assert out.shape == (3, 10, 10)


def test_sampler_resumes_mid_epoch_and_shards_across_ranks(photo_dir: Path):
    ds = ImageFolderDataset(photo_dir, 16, log=False)
    full = ResumableSampler(ds, 1, 0, seed=3)
    full.set_epoch(2)
    order = list(full)
    assert sorted(order) == list(range(6))
    full.set_start(4)
    assert list(full) == order[4:] and len(full) == 2
    ranks = [ResumableSampler(ds, 2, r, seed=3) for r in range(2)]
    shares = [list(s) for s in ranks]
    assert sorted(shares[0] + shares[1]) == list(range(6))
    assert batches_per_epoch(6, 2, 2) == 1 and batches_per_epoch(7, 1, 2) == 3
