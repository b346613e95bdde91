"""The feed-forward audio networks: exact framing, the stream equal to the whole clip, texture
drawn in chunks equal to one pass, training that lowers the optimisation's loss, bit-identical
resume, and exports that round-trip."""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from pathlib import Path

import pytest
import torch

from audiostyle.feedforward.config import AudioTrainConfig
from audiostyle.feedforward.export import export_model
from audiostyle.feedforward.modelfile import load_model, model_payload
from audiostyle.feedforward.networks import (AudioTextureNet, AudioTransformNet, FrameCodec,
                                             NetworkConfig)
from audiostyle.feedforward.render import (MAX_GAIN, Streamer, frame_noise, frame_uniform,
                                           hop_power, levelled, levelled_samples,
                                           stylize_frames, stylize_samples, texture_noise,
                                           texture_samples)
from audiostyle.feedforward.stylize import sample_wave, stylize_wave
from audiostyle.feedforward.train import train
from audiostyle.feedforward.trainer import FIRST_FRAMES, AudioTrainer, crop_first_frames
from helpers.audio import clicks, tone, write_wav
from shared import native_bf16
from shared.checkpoints import save_payload
from shared.training import DistInfo, noise_generator

SMALL = NetworkConfig(n_fft=256, hop=64, channels=16, blocks=3)
LEVELLED = NetworkConfig(n_fft=256, hop=64, channels=16, blocks=3, level_frames=25)
NOISY = NetworkConfig(n_fft=256, hop=64, channels=16, blocks=3, level_frames=25, noise_input=4,
                      noise_part=1)
ENVELOPE = NetworkConfig(n_fft=256, hop=64, channels=16, blocks=3, level_frames=25,
                         noise_input=4, noise_part=1, envelope=1)


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


@pytest.mark.parametrize("config", [SMALL, NOISY, ENVELOPE], ids=["plain", "noisy", "envelope"])
def test_an_untrained_transform_net_returns_its_content(config: NetworkConfig) -> None:
    x = tone(1.0) * 0.5
    net = AudioTransformNet(config)
    with torch.no_grad():
        out = stylize_samples(net, x)
        heard = levelled_samples(net, x)  # the content at the network's level, if it has one
    assert (out - heard).abs().max() < 2e-3  # generated parts start near silence


def test_frame_noise_is_a_function_of_the_absolute_frame() -> None:
    whole = frame_noise(0, 40, 3)
    assert torch.equal(frame_noise(7, 33, 3), whole[..., 7:])  # a later block draws the same
    both = frame_noise(torch.tensor([0, 7]), 20, 3)  # one start per crop
    assert torch.equal(both[0], whole[0, :, :20]) and torch.equal(both[1], whole[0, :, 7:27])
    many = frame_noise(123, 20000, 16)
    assert abs(float(many.mean())) < 0.01 and abs(float(many.std()) - 1) < 0.01
    assert abs(float(torch.corrcoef(many[0, :2])[0, 1])) < 0.02  # channels independent
    u = frame_uniform(0, 5000, 8, salt=3)
    assert 0 < float(u.min()) and float(u.max()) < 1 and u.unique().numel() == u.numel()
    assert not torch.equal(u, frame_uniform(0, 5000, 8, salt=4))


@pytest.mark.parametrize("config,block", [(SMALL, 64), (SMALL, 100), (SMALL, 441),
                                          (SMALL, 3001), (NOISY, 64), (NOISY, 441),
                                          (NOISY, 3001), (ENVELOPE, 64), (ENVELOPE, 441),
                                          (ENVELOPE, 3001)])
def test_the_stream_equals_the_whole_clip(config: NetworkConfig, block: int) -> None:
    net = _live(AudioTransformNet(config))
    x = torch.cat([tone(0.7), clicks(0.7)]) * 0.6  # two channels
    with torch.inference_mode():
        whole = stylize_samples(net, x)
    assert (whole - x).abs().max() > 1e-2  # the network does change it
    streamed = stylize_wave(net, x, 8000, block=block)
    assert streamed.shape == x.shape
    assert (streamed - whole).abs().max() < 1e-4


def test_an_envelope_network_writes_each_frame_at_the_contents_loudness() -> None:
    """Each result frame has the levelled content frame's RMS, so a pause stays silent;
    without the envelope the same weights fill it."""
    pause = torch.zeros(1, 4000)
    x = torch.cat([tone(0.5)[:1], pause, clicks(0.5)[:1]], dim=-1) * 0.5
    held = _live(AudioTransformNet(ENVELOPE))
    with torch.no_grad():
        held.out.weight.mul_(20.0)
        held.out.bias.fill_(4.0)  # every generated bin loud, in every frame
    free = AudioTransformNet(NOISY)
    free.load_state_dict(held.state_dict())  # the same weights, without the envelope
    results = {}
    for net in (held, free):
        codec = net.codec
        spec = codec.analyse(x)
        power = hop_power(x, codec.hop, spec.shape[-1])
        with torch.inference_mode():
            frames = stylize_frames(net, spec, power)
            heard = levelled(net, spec, power)[0]
        results[net.config.envelope] = (frames, heard)
    frames, heard = results[1]
    rms = frames.abs().square().mean(1).sqrt()
    want = heard.abs().square().mean(1).sqrt()
    assert torch.allclose(rms, want, rtol=1e-4, atol=1e-7)
    assert float(want[0, 80:120].max()) == 0.0  # frames wholly inside the pause
    filled = results[0][0].abs().square().mean(1).sqrt()
    assert float(filled[0, 80:120].min()) > 0.1  # the same weights, without it, fill the pause
    assert not torch.allclose(frames.abs() / rms.clamp_min(1e-9)[:, None],
                              heard.abs() / want.clamp_min(1e-9)[:, None], atol=1e-2)


def _rising(seconds: float = 1.4) -> torch.Tensor:
    """Two channels, each 12 dB louder in its second half (a level the levelling follows)."""
    x = torch.cat([tone(seconds), clicks(seconds)])
    half = x.shape[-1] // 2
    return torch.cat([x[:, :half] * 0.2, x[:, half:] * 0.8], dim=-1)


@pytest.mark.parametrize("block", [64, 100, 3001])
def test_the_levelled_stream_equals_the_whole_clip(block: int) -> None:
    net = _live(AudioTransformNet(LEVELLED))
    x = _rising()
    with torch.inference_mode():
        whole = stylize_samples(net, x)
    streamed = stylize_wave(net, x, 8000, block=block)
    assert (streamed - whole).abs().max() < 1e-4


def test_a_levelled_network_answers_every_input_level_alike() -> None:
    """The same clip 18 dB quieter gives the same result (no gain at its limit); without the
    levelling it does not."""
    x = _rising()
    for config, alike in ((LEVELLED, True), (SMALL, False)):
        net = _live(AudioTransformNet(config))
        with torch.inference_mode():
            loud, quiet = stylize_samples(net, x), stylize_samples(net, x / 8)
        assert ((loud - quiet).abs().max() < 1e-4) == alike


def test_an_untrained_levelled_network_returns_its_content_at_the_networks_level() -> None:
    net = AudioTransformNet(LEVELLED)
    net.level.fill_(0.2)
    x = torch.sin(torch.arange(16000) * (2 * math.pi * 300 / 8000))[None] * 0.01  # -26 dB
    with torch.no_grad():  # stylize_samples is differentiable (training uses it)
        out = stylize_samples(net, x)
    late = slice(x.shape[-1] // 2, None)  # once the running level has settled
    rms = out[:, late].square().mean().sqrt()
    assert abs(float(rms) - 0.2) < 0.02
    scaled = x[:, late] * (rms / x[:, late].square().mean().sqrt())
    assert (out[:, late] - scaled).abs().max() < 0.05 * float(out.abs().max())
    heard = levelled_samples(net, x)  # the training's content target: the content as heard
    assert (heard[:, late] - out[:, late]).abs().max() < 2e-3


def test_the_levelling_raises_near_silence_by_at_most_its_limit() -> None:
    net = AudioTransformNet(LEVELLED)
    hiss = torch.randn(1, 8000, generator=torch.Generator().manual_seed(2)) * 1e-6
    heard = levelled_samples(net, hiss)  # what the network hears: 40 dB up, not 100 dB
    assert float(heard.abs().max()) <= MAX_GAIN * float(hiss.abs().max()) * 1.05
    power = hop_power(torch.ones(1, 100), 64, 3)  # frames past the end count zeros
    assert torch.allclose(power, torch.tensor([[1.0, 36 / 64, 0.0]], dtype=torch.float64))


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
@pytest.mark.parametrize("mode,loss_filters", [("stylize", 0), ("texture", 0), ("stylize", 16)])
def test_training_lowers_the_optimisations_loss(tmp_path: Path, mode: str,
                                                loss_filters: int) -> None:
    """The whole objective falls, also when each step reads a subset of the filters."""
    c = _config(tmp_path, mode, steps=40, loss_filters=loss_filters).resolved()
    trainer = AudioTrainer(c, DistInfo(), torch.device("cpu"), lambda m: None)
    fixed = torch.stack([trainer.dataset[0], trainer.dataset[1]]) if mode == "stylize" else None

    def loss() -> float:
        trainer.step = 0  # the same noise each time in texture mode
        subset, trainer.c.loss_filters = trainer.c.loss_filters, 0  # the whole objective
        with torch.no_grad():
            total = trainer.loss(fixed)[1]["total"]
        trainer.c.loss_filters = subset
        return total

    before = loss()
    batches = trainer.batches()
    for _ in range(40):
        trainer.take_step(next(batches))
    assert loss() < 0.7 * before


def test_a_filter_subset_estimates_the_whole_objective(tmp_path: Path) -> None:
    """Each step's loss over ``loss_filters`` random filters, scaled, averages to the loss over
    all of them; all the filters as a subset give the whole objective exactly; the subset is
    a function of the seed and the step."""
    trainer = AudioTrainer(_config(tmp_path, loss_filters=16).resolved(), DistInfo(),
                           torch.device("cpu"), lambda m: None)
    batch = torch.stack([trainer.dataset[0], trainer.dataset[1]])
    with torch.no_grad():
        trainer.c.loss_filters = 0
        whole = trainer.loss(batch)[1]
        every = torch.arange(trainer.bank.filters)
        spec, other = torch.rand(2, 257, 40), torch.rand(2, 257, 40)
        assert torch.allclose(trainer.features(spec, every)["conv5"],
                              trainer.features(spec, None)["conv5"], atol=1e-5)
        a = trainer.subset_objective(every)(trainer.features(spec, every),
                                            content_targets=trainer.features(other, every))
        b = trainer.objective(trainer.features(spec, None),
                              content_targets=trainer.features(other, None))
        assert a.floats()["style"] == pytest.approx(b.floats()["style"], rel=1e-4)
        assert a.floats()["content"] == pytest.approx(b.floats()["content"], rel=1e-4)
        trainer.c.loss_filters = 16
        styles = []
        for step in range(300):
            trainer.step = step
            styles.append(trainer.loss(batch)[1]["style"])
    assert sum(styles) / len(styles) == pytest.approx(whole["style"], rel=0.25)
    assert len(set(styles)) > 250  # a new subset every step
    trainer.step = 7
    assert torch.equal(trainer.filter_subset(), trainer.filter_subset())
    assert trainer.filter_subset().numel() == 16
    with pytest.raises(ValueError, match="loss_filters must be 0"):
        _config(tmp_path, loss_filters=65).resolved()
    with pytest.raises(ValueError, match="autocorr_weight 0"):
        _config(tmp_path, loss_filters=16, autocorr_weight=1.0).resolved()


@pytest.mark.parametrize("mode", ["stylize", "texture"])
def test_a_bf16_loss_network_scores_a_crop_as_float32_does(tmp_path: Path, mode: str) -> None:
    """``precision`` bf16 computes the loss network in bfloat16: the style term and the total
    within 2 % of float32's on the same crops, and not equal to them (the bf16 path ran); the
    content term, a difference of nearly equal features here, within 10 %; auto resolves per
    device; other values are refused."""
    values = {}
    for precision in ("fp32", "bf16"):
        trainer = AudioTrainer(_config(tmp_path / precision, mode, precision=precision)
                               .resolved(), DistInfo(), torch.device("cpu"), lambda m: None)
        assert trainer.precision == precision
        batch = torch.stack([trainer.dataset[0], trainer.dataset[1]]) if mode == "stylize" \
            else None
        with torch.no_grad():
            values[precision] = trainer.loss(batch)[1]
    for term, exact in values["fp32"].items():
        rel = 0.1 if term == "content" else 2e-2
        assert values["bf16"][term] == pytest.approx(exact, rel=rel), term
    assert values["bf16"]["style"] != values["fp32"]["style"]
    auto = AudioTrainer(_config(tmp_path / "auto", mode).resolved(), DistInfo(),
                        torch.device("cpu"), lambda m: None)
    assert auto.precision == ("bf16" if native_bf16(torch.device("cpu")) else "fp32")
    with pytest.raises(ValueError, match="precision must be one of auto, fp32, bf16"):
        _config(tmp_path, mode, precision="fp16").resolved()


def test_training_sets_the_level_to_the_styles_and_a_texture_net_has_none(
        tmp_path: Path) -> None:
    c = _config(tmp_path).resolved()
    net = AudioTrainer(c, DistInfo(), torch.device("cpu"), lambda m: None).net
    style = clicks(1.5) * 0.8
    assert net.config.level_frames == round(3.0 * 8000 / 64)
    assert abs(float(net.level) - float(style.square().mean().sqrt())) < 1e-3
    assert _config(tmp_path, level_seconds=0).resolved().network_config().level_frames == 0
    assert _config(tmp_path, "texture").resolved().network_config().level_frames == 0
    with pytest.raises(ValueError, match="level_seconds"):
        _config(tmp_path, level_seconds=-1).resolved()


def test_noise_settings_reach_a_stylise_network_only(tmp_path: Path) -> None:
    net = _config(tmp_path, noise_input=4, noise_part=1).resolved().network_config()
    assert (net.noise_input, net.noise_part) == (4, 1)
    tex = _config(tmp_path, "texture", noise_input=4, noise_part=1).resolved().network_config()
    assert tex.noise_input == tex.noise_part == tex.envelope == 0  # noise is all it reads
    assert _config(tmp_path).resolved().network_config().envelope == 1  # the default
    assert _config(tmp_path, envelope=0).resolved().network_config().envelope == 0
    with pytest.raises(ValueError, match="envelope must be 0 or 1"):
        _config(tmp_path, envelope=2).resolved()
    with pytest.raises(ValueError, match="noise_part"):
        _config(tmp_path, noise_part=2).resolved()
    with pytest.raises(ValueError, match="noise_input"):
        _config(tmp_path, noise_input=-1).resolved()


def test_scoring_settings_resolve_per_mode(tmp_path: Path) -> None:
    tex = _config(tmp_path, "texture").resolved()
    assert (tex.warmup, tex.level_weight) == (2.0, 1e4)
    sty = _config(tmp_path).resolved()
    assert (sty.warmup, sty.level_weight) == (0.0, 1e4)
    assert _config(tmp_path, level_weight=0.0).resolved().level_weight == 0.0
    with pytest.raises(ValueError, match="warmup scores texture crops"):
        _config(tmp_path, warmup=1.0).resolved()
    with pytest.raises(ValueError, match="level_weight must be finite"):
        _config(tmp_path, "texture", level_weight=-1.0).resolved()


def test_a_texture_crop_follows_unscored_frames_of_the_same_draw(tmp_path: Path) -> None:
    """The scored crop is the tail of one longer draw (the steady state a long sample has),
    not the network's start from silence; ``warmup`` 0 scores the start, as before."""
    c = _config(tmp_path, "texture").resolved()
    trainer = AudioTrainer(c, DistInfo(), torch.device("cpu"), lambda m: None)
    _live(trainer.net)
    codec, n = trainer.net.codec, c.crop_samples
    most = 2 * trainer.net.receptive_frames
    skips = []
    for step in range(6):
        trainer.step = step
        gen = noise_generator(c.seed, 0, step)
        skip = int(torch.randint(0, most + 1, (1,), generator=gen)) * codec.hop
        noise = texture_noise(trainer.net, codec.frames(skip + n), gen, 2)
        with torch.no_grad():
            whole = texture_samples(trainer.net, noise, skip + n)
            crop = trainer.output(None)
        assert crop.shape == (2, n) and torch.equal(crop, whole[:, skip:])
        skips.append(skip)
    assert len(set(skips)) > 1 and max(skips) > 0
    start = AudioTrainer(_config(tmp_path / "w0", "texture", warmup=0.0).resolved(), DistInfo(),
                         torch.device("cpu"), lambda m: None)
    _live(start.net)
    noise = texture_noise(start.net, codec.frames(n), noise_generator(c.seed, 0, 0), 2)
    with torch.no_grad():
        assert torch.equal(start.output(None), texture_samples(start.net, noise, n))


def test_a_texture_crop_is_scored_at_the_styles_level(tmp_path: Path) -> None:
    """Its style terms do not depend on the level it was written at; the level term holds
    that level at the style's RMS, and is zero there."""
    trainer = AudioTrainer(_config(tmp_path, "texture").resolved(), DistInfo(),
                           torch.device("cpu"), lambda m: None)
    assert abs(trainer.style_rms - float(clicks(1.5).mul(0.8).square().mean().sqrt())) < 1e-3
    out = torch.randn(2, 6400, generator=torch.Generator().manual_seed(1)) * 0.05
    scaled, term = trainer.at_level(out, None)
    assert torch.allclose(scaled.square().mean(-1).sqrt(), torch.full((2,), trainer.style_rms))
    louder, term2 = trainer.at_level(out * 4, None)
    assert torch.allclose(louder, scaled, atol=1e-6)
    assert term is not None and term2 is not None and float(term2) > float(term) > 0
    _, zero = trainer.at_level(scaled, None)
    assert zero is not None and float(zero) < 1e-6
    as_written = AudioTrainer(_config(tmp_path / "w", "texture", level_weight=0.0).resolved(),
                              DistInfo(), torch.device("cpu"), lambda m: None)
    got, none = as_written.at_level(out, None)
    assert got is out and none is None


def test_a_stylisation_crop_is_scored_at_the_level_the_network_heard(tmp_path: Path) -> None:
    """With ``level_weight``, each crop is scaled to the RMS of the levelled content it came
    from, whatever level the network wrote it at; a silent crop's reference is floored."""
    trainer = AudioTrainer(_config(tmp_path, "stylize", level_weight=1e4).resolved(),
                           DistInfo(), torch.device("cpu"), lambda m: None)
    heard = torch.stack([tone(0.8)[0] * 0.2, tone(0.8)[0] * 0.02, torch.zeros(6400)])
    out = torch.randn(3, 6400, generator=torch.Generator().manual_seed(1)) * 0.05
    scaled, term = trainer.at_level(out, heard)
    want = heard.square().mean(-1).sqrt().clamp_min(0.01 * trainer.style_rms)
    assert torch.allclose(scaled.square().mean(-1).sqrt(), want, rtol=1e-4)
    assert torch.allclose(trainer.at_level(out * 3, heard)[0], scaled, atol=1e-6)
    _, zero = trainer.at_level(scaled, heard)
    assert term is not None and float(term) > 1 and zero is not None and float(zero) < 1e-6
    plain = AudioTrainer(_config(tmp_path / "p", "stylize", level_weight=0.0).resolved(),
                         DistInfo(), torch.device("cpu"), lambda m: None)
    got, none = plain.at_level(out, heard)
    assert got is out and none is None


def test_each_crop_reads_its_own_stretch_of_noise() -> None:
    crops = torch.cat([tone(0.5), clicks(0.5), tone(0.5) * 0.5]) * 0.5
    first = crop_first_frames(crops)
    assert first.shape == (3,) and first.unique().numel() == 3
    assert int(first.min()) >= 0 and int(first.max()) < FIRST_FRAMES
    assert torch.equal(crop_first_frames(crops[1:2]), first[1:2])  # whatever batch holds it


def test_a_model_file_from_before_the_levelling_loads_without_it(tmp_path: Path) -> None:
    net = _live(AudioTransformNet(SMALL))
    payload = model_payload(net, 8000, {}, 1)
    for name in ("level_frames", "noise_input", "noise_part", "envelope"):
        del payload["network"][name]  # as model files written before them
    again = load_model(save_payload(payload, tmp_path / "old.pt"))[0]
    assert again.config.level_frames == 0 and not hasattr(again, "level")
    assert again.config.noise_input == again.config.noise_part == again.config.envelope == 0
    with torch.inference_mode():
        assert torch.equal(stylize_samples(net, tone(0.5)), stylize_samples(again, tone(0.5)))


@pytest.mark.parametrize("loss_filters,precision", [(0, "fp32"), (16, "fp32"), (16, "bf16")])
def test_resume_is_bit_identical(tmp_path: Path, loss_filters: int, precision: str) -> None:
    kw = dict(loss_filters=loss_filters, precision=precision)
    straight = train(_config(tmp_path / "a", steps=6, **kw))
    half = _config(tmp_path / "b", steps=3, **kw)
    train(half)
    resumed = train(_config(tmp_path / "b", steps=6, resume=True, **kw))
    assert straight.step == resumed.step == 6
    a = load_model(straight.model_path)[0].state_dict()
    b = load_model(resumed.model_path)[0].state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [s["total"] for s in straight.losses[3:]] == [s["total"] for s in resumed.losses]


def test_a_resume_with_other_settings_is_refused(tmp_path: Path) -> None:
    train(_config(tmp_path, steps=2))
    with pytest.raises(ValueError, match="differ from those of checkpoint.*content_weight"):
        train(_config(tmp_path, steps=4, resume=True, content_weight=0.5))


def test_a_stylisation_checkpoint_scored_as_written_resumes_as_such(tmp_path: Path) -> None:
    """A run from before stylisation crops were scored at one level resumes with
    ``level_weight`` 0, and is refused under today's default."""
    train(_config(tmp_path, steps=2, level_weight=0.0))
    with pytest.raises(ValueError, match="differ from those of checkpoint.*level_weight"):
        train(_config(tmp_path, steps=3, resume=True))
    assert train(_config(tmp_path, steps=3, resume=True, level_weight=0.0)).step == 3


def test_a_checkpoint_without_the_envelope_resumes_without_it(tmp_path: Path) -> None:
    train(_config(tmp_path, steps=2, envelope=0))
    with pytest.raises(ValueError, match="differ from those of checkpoint.*envelope"):
        train(_config(tmp_path, steps=3, resume=True))
    assert train(_config(tmp_path, steps=3, resume=True, envelope=0)).step == 3


@pytest.mark.parametrize("fmt", ["torchscript", "onnx"])
@pytest.mark.parametrize("kind,config,name", [(AudioTransformNet, LEVELLED, "log_mag"),
                                              (AudioTransformNet, NOISY, "log_mag_noise"),
                                              (AudioTextureNet, SMALL, "noise")])
def test_export_round_trips(tmp_path: Path, fmt: str, kind: type, config: NetworkConfig,
                            name: str) -> None:
    model = save_payload(model_payload(_live(kind(config)), 8000, {}, 1), tmp_path / "m.pt")
    out = tmp_path / ("m.ts" if fmt == "torchscript" else "m.onnx")
    report = export_model(model, fmt, out)
    assert out.exists() and report.max_abs_diff <= 1e-4
    assert report.inputs == (name,)
    if fmt == "torchscript":  # the metadata a host needs to level the input as we do
        extra = {"styletoolkit.json": ""}
        torch.jit.load(str(out), _extra_files=extra)
        meta = json.loads(extra["styletoolkit.json"])
        assert meta["level"] == (pytest.approx(0.1) if kind is AudioTransformNet else None)
        assert meta["network"]["level_frames"] == config.level_frames


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


def test_a_presets_texture_network_has_its_own_width_and_steps(tmp_path: Path) -> None:
    """``quick`` trains a 128-channel stylisation network but a 256-channel texture network
    (the narrower one ended 1.56x further from the style than ``texture --preset fast``);
    a stylisation takes 8 crops a step over 1024 of the loss filters, a texture 2 over all;
    a width or step count given explicitly wins in both modes."""
    sizes = dict(channels=None, steps=None, batch_size=None)
    stylize = _config(tmp_path, **sizes).resolved()
    texture = _config(tmp_path, "texture", **sizes).resolved()
    assert (stylize.channels, stylize.steps, stylize.batch_size) == (128, 800, 8)
    assert (texture.channels, texture.steps, texture.batch_size) == (256, 4500, 2)
    assert (stylize.loss_filters, texture.loss_filters) == (64, 0)  # at most every filter
    full = AudioTrainConfig(styles=["s.wav"], out="m.pt", dataset="d").resolved()
    assert (full.loss_filters, full.filters) == (1024, 4096)
    assert AudioTrainConfig(styles=["s.wav"], out="m.pt", mode="texture").resolved() \
        .loss_filters == 0
    assert texture.network_config().channels == 256
    assert _config(tmp_path, "texture", channels=32, steps=7).resolved().channels == 32
    assert _config(tmp_path, "texture", channels=32, steps=7).resolved().steps == 7
