"""A judge the tool never optimises: embeddings of a trained music tagger (musicnn, Pons &
Serra 2019, MagnaTagATune model), whose weights ship inside its PyPI wheel, so nothing is
downloaded at run time.

Run by a Python that has ``tensorflow-cpu``, ``tf-keras``, ``librosa`` and ``soundfile``, with
musicnn's wheel installed without its dependencies (its metadata pins numpy < 1.17, which the
code does not need):

    python -m venv /tmp/tfvenv && /tmp/tfvenv/bin/pip install tensorflow-cpu tf-keras librosa soundfile scipy
    /tmp/tfvenv/bin/pip download --no-deps musicnn -d /tmp/wheels
    /tmp/tfvenv/bin/pip install --no-deps /tmp/wheels/musicnn-0.1.0-py3-none-any.whl
    /tmp/tfvenv/bin/python benchmarks/judge_musicnn.py OUT.json A.wav B.wav ...

For each file: the mean and the covariance of the tagger's penultimate layer (200 values) over
1 s patches every 0.5 s, of the file scaled to one RMS (every file judged at one loudness) and
looped to at least 3 s. ``bench_audio_quality.py`` compares a result's with its style's by the
Fréchet distance of the two Gaussians (as FAD does with VGGish).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile

import numpy as np

MEASURE_RMS = 0.1  # audiostyle.quality.MEASURE_RMS
MIN_SECONDS = 3.0


def _batch_data(audio_file: str, n_frames: int, overlap: int) -> tuple[np.ndarray, np.ndarray]:
    """musicnn's own ``batch_data`` (log-mel patches), with its float16 spectrogram widened
    before ``log10(10000 x + 1)``: under NumPy 2 the product stays float16 and overflows to
    infinity (musicnn was written for NumPy < 1.17), which saturates every feature."""
    import librosa
    from musicnn import configuration as config

    audio, sr = librosa.load(audio_file, sr=config.SR)
    rep = librosa.feature.melspectrogram(y=audio, sr=sr, hop_length=config.FFT_HOP,
                                         n_fft=config.FFT_SIZE, n_mels=config.N_MELS).T
    rep = np.log10(10000 * rep.astype(np.float16).astype(np.float32) + 1)
    starts = range(0, rep.shape[0] - n_frames + 1, overlap)
    return np.stack([rep[t:t + n_frames] for t in starts]), rep


def embed(path: str) -> dict[str, list]:
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # musicnn's tf.compat.v1.layers need it
    import soundfile as sf
    import musicnn.extractor as musicnn_extractor
    from musicnn.extractor import extractor

    musicnn_extractor.batch_data = _batch_data

    audio, rate = sf.read(path, always_2d=True)
    mono = audio.mean(axis=1)
    level = float(np.sqrt(np.mean(mono ** 2)))
    if level > 0:
        mono = mono * (MEASURE_RMS / level)
    if len(mono) < MIN_SECONDS * rate:
        mono = np.tile(mono, int(np.ceil(MIN_SECONDS * rate / max(len(mono), 1))))
    with tempfile.TemporaryDirectory() as tmp:
        wav = os.path.join(tmp, "x.wav")
        sf.write(wav, mono.astype(np.float32), rate, subtype="FLOAT")
        _taggram, _tags, features = extractor(wav, model="MTT_musicnn", input_length=1,
                                              input_overlap=0.5, extract_features=True)
    f = np.atleast_2d(np.asarray(features["penultimate"], dtype=np.float64))  # (patches, 200)
    return {"mean": f.mean(axis=0).tolist(), "cov": np.cov(f, rowvar=False).tolist(),
            "patches": int(f.shape[0])}


def main() -> None:
    out, paths = sys.argv[1], sys.argv[2:]
    result = {p: embed(p) for p in paths}
    with open(out, "w") as fh:
        json.dump(result, fh)


if __name__ == "__main__":
    main()
