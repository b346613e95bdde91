"""Files read on demand (audiostyle.stream): the same samples, levels and errors as loading
them whole, and a long style's Gram read a block at a time."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from audiostyle import AudioStyleConfig, style_transfer, texture_synthesis
from audiostyle.audio import load_audio
from audiostyle.dsp import BLOCK, resample, rms
from audiostyle.stream import AudioFile, ResampledFile, open_audio


def _write(path, seconds: float, rate: int, channels: int = 2, seed: int = 0) -> str:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    data = np.stack([0.3 * np.sin(2 * np.pi * (220 + 110 * c) * t)
                     + 0.05 * rng.standard_normal(t.size) for c in range(channels)], axis=1)
    sf.write(str(path), data.astype(np.float32), rate, subtype="PCM_16")
    return str(path)


@pytest.fixture(scope="module")
def long_stereo(tmp_path_factory) -> str:
    """Stereo at 44.1 kHz, 2.6 blocks long: resampled in blocks, not in one call."""
    return _write(tmp_path_factory.mktemp("stream") / "long.wav", 2.6 * BLOCK / 44100, 44100)


@pytest.mark.parametrize("mono", [True, False], ids=["downmix", "stereo"])
def test_ranges_of_the_view_equal_the_whole_file_resampled(long_stereo, mono) -> None:
    whole = resample(load_audio(long_stereo, mono).samples, 44100, 22050)  # (C, N)
    view = ResampledFile(open_audio(long_stereo), 22050, mono)
    assert tuple(view.shape) == tuple(whole.shape)
    per_block = BLOCK // 2  # output samples of one resampling block
    for a, b in [(0, 100), (per_block - 7, per_block + 9), (3, 2 * per_block + 5),
                 (whole.shape[-1] - 50, whole.shape[-1]), (0, whole.shape[-1])]:
        torch.testing.assert_close(view[..., a:b], whole[..., a:b], rtol=0, atol=0)
    torch.testing.assert_close(view.channel_view(1)[..., 10:20] if not mono else
                               view.downmix()[..., 10:20], whole[-1:, 10:20], rtol=0, atol=0)


def test_a_view_at_the_file_rate_reads_the_samples(long_stereo) -> None:
    whole = load_audio(long_stereo).samples
    view = ResampledFile(open_audio(long_stereo), 44100, mono=False)
    torch.testing.assert_close(view[..., 5:BLOCK + 9], whole[:, 5:BLOCK + 9], rtol=0, atol=0)
    torch.testing.assert_close(view.channel_view(0)[..., :7], whole[:1, :7], rtol=0, atol=0)


def test_levels_equal_rms_of_the_loaded_file(long_stereo) -> None:
    f = open_audio(long_stereo)
    assert isinstance(f, AudioFile)
    assert (f.sample_rate, f.channels, f.frames) == (44100, 2, load_audio(long_stereo).frames)
    torch.testing.assert_close(f.levels, rms(load_audio(long_stereo).samples), rtol=0, atol=0)
    torch.testing.assert_close(f.mono_level, rms(load_audio(long_stereo, mono=True).samples),
                               rtol=0, atol=0)


def _text_file(path, text: str) -> str:
    path.write_text(text)
    return str(path)


def _nan_file(path) -> str:
    data = np.zeros((1000, 1), dtype=np.float32)
    data[500] = np.nan
    sf.write(str(path), data, 8000, subtype="FLOAT")
    return str(path)


@pytest.mark.parametrize("make, message", [
    (lambda d: str(d / "missing.wav"), "no such file"),
    (lambda d: str(d), "is a folder"),
    (lambda d: _text_file(d / "empty.wav", ""), "empty file"),
    (lambda d: _text_file(d / "text.wav", "not audio"), "not a readable audio file"),
    (lambda d: _nan_file(d / "nan.wav"), "1 NaN or infinite samples"),
], ids=["missing", "folder", "empty", "not-audio", "nan"])
def test_open_audio_refuses_what_load_audio_refuses(tmp_path, make, message) -> None:
    path = make(tmp_path)
    with pytest.raises((ValueError, FileNotFoundError), match=message):
        open_audio(path)
    with pytest.raises((ValueError, FileNotFoundError), match=message):
        load_audio(path)


TINY = AudioStyleConfig.build(sample_rate=8000, n_fft=256, hop=64, filters=32, kernel_widths=(5,),
                        iterations=3, griffin_lim_iters=2)


@pytest.mark.parametrize("stereo", [False, True], ids=["mono", "stereo"])
def test_files_read_on_demand_give_the_in_memory_result(tmp_path, stereo) -> None:
    """Content and style as files read on demand: the same result, bit for bit, as the same
    files loaded whole (transfer and texture)."""
    content = _write(tmp_path / "c.wav", 1.5, 11025, seed=1)
    style = _write(tmp_path / "s.wav", 1.0, 16000, seed=2)
    files = (open_audio(content), open_audio(style))
    clips = (load_audio(content, not stereo), load_audio(style, not stereo))
    a = style_transfer(files[0], [files[1]], TINY, stereo=stereo, device="cpu")
    b = style_transfer(clips[0], [clips[1]], TINY, stereo=stereo, device="cpu")
    torch.testing.assert_close(a.waveform, b.waveform, rtol=0, atol=0)
    a = texture_synthesis([files[1]], 1.0, TINY, stereo=stereo, device="cpu")
    b = texture_synthesis([clips[1]], 1.0, TINY, stereo=stereo, device="cpu")
    torch.testing.assert_close(a.waveform, b.waveform, rtol=0, atol=0)


def test_a_long_style_is_read_a_block_at_a_time(long_stereo, monkeypatch) -> None:
    """The style's Gram is accumulated while the file is read: no read of more than one
    resampling block and its margins, and every sample read about once."""
    reads: list[int] = []
    real = AudioFile.read

    def counted(self, start: int, stop: int) -> torch.Tensor:
        reads.append(stop - start)
        return real(self, start, stop)

    monkeypatch.setattr(AudioFile, "read", counted)
    style = open_audio(long_stereo)
    config = AudioStyleConfig.build(filters=16, kernel_widths=(3,), iterations=1, griffin_lim_iters=1)
    texture_synthesis([style], 0.5, config, device="cpu")
    assert reads and max(reads) <= BLOCK + 2 * 4096 + 2
    assert sum(reads) < 1.1 * style.frames
