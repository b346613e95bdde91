"""Training content: any folder of recordings, searched recursively, cut into random crops.

Every file libsndfile reads counts (WAV, FLAC, OGG, AIFF, ... found by their headers, not
their names); each is decoded once, downmixed and resampled to the working rate, and kept
(a few minutes of audio at 22.05 kHz is a few tens of MB). A crop's position and gain are a
pure function of ``(seed, epoch, index)``, so a resumed run sees exactly the batches an
uninterrupted one would, with any number of data-loader workers. A file shorter than a crop
is repeated to fill it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from torch import Tensor
from torch.utils.data import Dataset

from ..audio import load_audio
from ..dsp import resample

AUDIO_SUFFIXES = frozenset({".wav", ".flac", ".ogg", ".oga", ".aif", ".aiff", ".au", ".snd",
                            ".caf", ".w64", ".rf64", ".mp3", ".opus"})


def find_audio(folder: str | Path) -> tuple[list[Path], list[Path]]:
    """Audio files under ``folder`` (recursive, sorted), split into readable and unreadable.

    Raises:
        FileNotFoundError: ``folder`` is missing.
        ValueError: ``folder`` is not a folder, is empty, or holds no readable audio.
    """
    root = Path(folder)
    if not root.exists():
        raise FileNotFoundError(f"dataset folder does not exist: {root}")
    if not root.is_dir():
        raise ValueError(f"dataset is not a folder: {root}")
    files = sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))
    if not files:
        raise ValueError(f"dataset folder {root} is empty (searched recursively)")
    good: list[Path] = []
    bad: list[Path] = []
    for path in files:
        try:
            info = sf.info(str(path))
            (good if info.frames != 0 else bad).append(path)
        except (sf.LibsndfileError, RuntimeError, TypeError, ValueError):
            if path.suffix.lower() in AUDIO_SUFFIXES:
                bad.append(path)
    if not good:
        raise ValueError(f"dataset folder {root} holds no audio that can be read "
                         f"({len(files)} file(s), {len(bad)} of them damaged audio)")
    return good, bad


class AudioCrops(Dataset):
    """Random crops ``(crop_samples,)`` of a folder's recordings at ``sample_rate``, mono, each
    at a random gain in ``gain_db``.

    Args:
        folder: Root folder, searched recursively.
        sample_rate: Working rate of the crops.
        crop_samples: Samples per crop.
        gain_db: ``(low, high)``: each crop is scaled by ``10^(g / 20)``, ``g`` uniform in it,
            after the file is scaled to peak 1 (so the gains span the levels users bring).
        seed: Seed of the crop positions and gains (with the epoch and the index).
        log: Say on stderr how many files were found and skipped.
    """

    def __init__(self, folder: str | Path, sample_rate: int, crop_samples: int,
                 gain_db: tuple[float, float] = (-18.0, 0.0), seed: int = 0,
                 log: bool = True) -> None:
        files, unreadable = find_audio(folder)
        self.clips: list[Tensor] = []
        self.files: list[Path] = []
        for path in files:
            try:
                clip = load_audio(path, mono=True)
            except ValueError as exc:
                unreadable.append(path)
                if log:
                    print(f"dataset: skipping {exc}", file=sys.stderr)
                continue
            wave = resample(clip.samples[0], clip.sample_rate, sample_rate)  # (N,)
            peak = float(wave.abs().max())
            if peak > 0:
                self.clips.append(wave / peak)
                self.files.append(path)
        if not self.clips:
            raise ValueError(f"dataset folder {folder} holds no audio with sound in it")
        self.skipped = len(unreadable)
        self.crop, self.gain_db, self.seed, self.epoch = int(crop_samples), gain_db, seed, 0
        if log:
            seconds = sum(c.numel() for c in self.clips) / sample_rate
            print(f"dataset: {len(self.clips)} recordings, {seconds:.0f} s"
                  + (f"; skipped {self.skipped} unreadable" if self.skipped else ""),
                  file=sys.stderr)

    def set_epoch(self, epoch: int) -> None:
        """Crops depend on the epoch; call before iterating (workers copy the dataset then)."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, index: int) -> Tensor:
        rng = np.random.default_rng([self.seed, self.epoch, index])
        wave = self.clips[index]
        if wave.numel() < self.crop:
            wave = wave.repeat(self.crop // wave.numel() + 1)
        start = int(rng.integers(0, wave.numel() - self.crop + 1))
        gain = 10.0 ** (float(rng.uniform(*self.gain_db)) / 20.0)
        return (wave[start:start + self.crop] * gain).to(torch.float32)  # (crop,)


__all__ = ["AUDIO_SUFFIXES", "AudioCrops", "find_audio"]
