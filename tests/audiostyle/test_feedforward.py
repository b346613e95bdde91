"""The feed-forward audio networks: exact framing, the stream equal to the whole clip, texture
drawn in chunks equal to one pass, training that lowers the optimisation's loss, bit-identical
resume, and exports that round-trip."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import pytest
import torch

from audiostyle.feedforward.config import AudioTrainConfig
from audiostyle.feedforward.export import export_model
from audiostyle.feedforward.modelfile import load_model, model_payload
from audiostyle.feedforward.networks import (AudioTextureNet, AudioTransformNet, FrameCodec,
                                             NetworkConfig)
from audiostyle.feedforward.render import Streamer, stylize_samples, texture_noise
from audiostyle.feedforward.stylize import sample_wave, stylize_wave
from audiostyle.feedforward.train import train
from audiostyle.feedforward.trainer import AudioTrainer
from helpers.audio import clicks, tone, write_wav
from shared.checkpoints import save_payload
from shared.training import DistInfo

SMALL = NetworkConfig(n_fft=256, hop=64, channels=16, blocks=3)


def _live(net: torch.nn.Module) -> torch.nn.Module:
    """An untrained network whose output layer is not zero (so it changes its input)."""
    g = torch.Generator().manual_seed(5)
    with torch.no_grad():
        net.out.weight.copy_(torch.randn(net.out.weight.shape, generator=g) * 0.05)
    return net.eval()


@pytest.mark.parametrize("n_fft,hop,samples", [(1024, 256, 5000), (256, 64, 63), (512, 128, 1)])
def test_frames_invert_exactly(n_fft: int, hop: int, samples: int) -> None:
    codec = FrameCodec(n_fft, hop)
    x = torch.randn(2, samples, generator=torch.Generator().manual_seed(0))
    spec = codec.analyse(x)
    assert spec.shape == (2, n_fft // 2 + 1, codec.frames(samples))
    assert torch.allclose(codec.synthesize(spec, samples), x, atol=1e-5)


def test_an_untrained_transform_net_returns_its_content() -> None:
    x = tone(1.0) * 0.5
    out = stylize_samples(AudioTransformNet(SMALL), x)
    assert (out - x).abs().max() < 2e-3  # the generated part starts near silence


@pytest.mark.parametrize("block", [64, 100, 441, 3001])
def test_the_stream_equals_the_whole_clip(block: int) -> None:
    net = _live(AudioTransformNet(SMALL))
    x = torch.cat([tone(0.7), clicks(0.7)]) * 0.6  # two channels
    with torch.inference_mode():
        whole = stylize_samples(net, x)
    assert (whole - x).abs().max() > 1e-2  # the network does change it
    streamed = stylize_wave(net, x, 8000, block=block)
    assert streamed.shape == x.shape
    assert (streamed - whole).abs().max() < 1e-4


def test_the_stream_releases_samples_after_its_latency() -> None:
    net = _live(AudioTransformNet(SMALL))
    s = Streamer(net, 1)
    outs = [s.push(torch.zeros(1, 64)).shape[-1] for _ in range(10)]
    assert sum(outs) == 10 * 64 - net.codec.delay  # n_fft - hop samples still owed
    assert s.latency(64) == net.codec.delay + 64
    assert s.finish().shape[-1] == net.codec.delay


def test_texture_in_chunks_equals_one_pass_and_seeds_differ() -> None:
    net = _live(AudioTextureNet(SMALL))
    one = sample_wave(net, 3000, seed=3)
    chunked = sample_wave(net, 3000, seed=3, chunk_frames=7)
    assert one.shape == (1, 3000)
    assert (one - chunked).abs().max() < 1e-4
    other = sample_wave(net, 3000, seed=4)
    assert (one - other).abs().mean() > 0.1 * one.abs().mean()
    longer = sample_wave(net, 6000, seed=3)  # a longer draw continues the shorter
    assert (longer[:, :2000] - one[:, :2000]).abs().max() < 1e-4
    assert texture_noise(net, 5, torch.Generator().manual_seed(0)).shape == (1, 32, 5)


def _config(root: Path, mode: str = "stylize", **kw) -> AudioTrainConfig:
    root.mkdir(parents=True, exist_ok=True)
    style = write_wav(root / "style.wav", clicks(1.5) * 0.8)
    data = root / "data" / "nested"
    data.mkdir(parents=True, exist_ok=True)
    write_wav(data / "a.wav", tone(1.2))
    write_wav(root / "data" / "b.wav", tone(0.9, freqs=(500.0,)))
    settings = dict(styles=[style], out=str(root / f"{mode}.pt"), mode=mode,
                    dataset=str(root / "data") if mode == "stylize" else None,
                    sample_rate=8000, crop_seconds=0.8, batch_size=2, steps=4, filters=64,
                    n_fft=SMALL.n_fft, hop=SMALL.hop, channels=16, blocks=3, loss_n_fft=512,
                    loss_hop=128, kernel_widths=(5,), quiet=True, device="cpu",
                    checkpoint_every=0, lr=3e-3)
    return AudioTrainConfig(**{**settings, **kw})


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["stylize", "texture"])
def test_training_lowers_the_optimisations_loss(tmp_path: Path, mode: str) -> None:
    c = _config(tmp_path, mode, steps=40).resolved()
    trainer = AudioTrainer(c, DistInfo(), torch.device("cpu"), lambda m: None)
    fixed = torch.stack([trainer.dataset[0], trainer.dataset[1]]) if mode == "stylize" else None

    def loss() -> float:
        trainer.step = 0  # the same noise each time in texture mode
        with torch.no_grad():
            return trainer.loss(fixed)[1]["total"]

    before = loss()
    batches = trainer.batches()
    for _ in range(40):
        trainer.take_step(next(batches))
    assert loss() < 0.7 * before


def test_resume_is_bit_identical(tmp_path: Path) -> None:
    straight = train(_config(tmp_path / "a", steps=6))
    half = _config(tmp_path / "b", steps=3)
    train(half)
    resumed = train(_config(tmp_path / "b", steps=6, resume=True))
    assert straight.step == resumed.step == 6
    a = load_model(straight.model_path)[0].state_dict()
    b = load_model(resumed.model_path)[0].state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [s["total"] for s in straight.losses[3:]] == [s["total"] for s in resumed.losses]


def test_a_resume_with_other_settings_is_refused(tmp_path: Path) -> None:
    train(_config(tmp_path, steps=2))
    with pytest.raises(ValueError, match="differ from those of checkpoint.*content_weight"):
        train(_config(tmp_path, steps=4, resume=True, content_weight=0.5))


@pytest.mark.parametrize("fmt", ["torchscript", "onnx"])
@pytest.mark.parametrize("kind", [AudioTransformNet, AudioTextureNet])
def test_export_round_trips(tmp_path: Path, fmt: str, kind: type) -> None:
    model = save_payload(model_payload(_live(kind(SMALL)), 8000, {}, 1), tmp_path / "m.pt")
    out = tmp_path / ("m.ts" if fmt == "torchscript" else "m.onnx")
    report = export_model(model, fmt, out)
    assert out.exists() and report.max_abs_diff <= 1e-4
    assert report.inputs == (("log_mag",) if kind is AudioTransformNet else ("noise",))


def test_a_model_file_rebuilds_its_network(tmp_path: Path) -> None:
    net = _live(AudioTransformNet(SMALL))
    path = save_payload(model_payload(net, 8000, asdict(_config(tmp_path)), 7), tmp_path / "m.pt")
    again, info = load_model(path)
    assert (info.mode, info.sample_rate, info.step) == ("stylize", 8000, 7)
    x = tone(0.5)
    with torch.inference_mode():
        assert torch.equal(stylize_samples(net, x), stylize_samples(again, x))


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_training_and_stylising_on_cuda(tmp_path: Path) -> None:
    result = train(_config(tmp_path, steps=3, device="cuda"))
    assert result.step == 3
    net_cpu = load_model(result.model_path, "cpu")[0]
    net_gpu = load_model(result.model_path, "cuda")[0]
    x = tone(1.0)
    with torch.inference_mode():
        a = stylize_samples(net_cpu, x)
        b = stylize_samples(net_gpu, x.cuda()).cpu()
    assert (a - b).abs().max() < 1e-3
    assert (stylize_wave(net_gpu, x.cuda(), 8000, block=64).cpu() - a).abs().max() < 1e-3
