"""Ulyanov & Lebedev's audio style transfer notebook (neural-style-audio-tf), ported to TF 2.

The reference the parity benchmark measures the project against. It follows the authors'
notebook step by step: librosa load and STFT (n_fft 2048), S = log1p|STFT|; one random
"VALID" 1-D convolution (as ``conv2d`` over a 1 x T image with the 1025 bins as channels),
ReLU; Gram = F^T F / N; loss = 2 * l2_loss(G - G_style) + ALPHA * 2 * l2_loss(F - F_content);
SciPy's L-BFGS-B (``maxiter`` iterations, its defaults otherwise) on a float64 copy of the
variable, as ``tf.contrib.opt.ScipyOptimizerInterface`` did; then plain Griffin-Lim with
librosa (random phase, ``istft``/``stft``) and a peak-normalised WAV.

Changes from the notebook, so that both tools solve the same problem at equal settings:

* TF 2: the graph is a ``tf.function`` returning loss and gradient.
* The kernel, the start point and the spectrograms come from ``--inputs`` (an ``.npz`` that
  the benchmark writes from the project's own network and STFT): the same random network and
  targets give comparable losses. The notebook's own ``librosa.load`` + ``stft`` of both files
  still run and are timed as its load stage.
* No 430-frame crop, and each Gram is divided by its own conv output frames (the project's
  normalisation) instead of the content's input frames, so styles of any length compare.
* ``ALPHA = 0`` and a noise start of the requested length give texture synthesis.

Run it with a Python that has ``tensorflow-cpu``, ``scipy``, ``librosa`` and ``soundfile``:

    python benchmarks/reference_tf.py --inputs case.npz --style S.wav [--content C.wav] \
        --output out.wav --iterations 300 --griffin-lim 500 --json result.json
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--inputs", required=True, help=".npz with kernel, x0, content_spec, style_spec")
    p.add_argument("--content", help="content file (absent: texture synthesis)")
    p.add_argument("--style", required=True)
    p.add_argument("--output", required=True)
    p.add_argument("--alpha", type=float, default=1e-2)
    p.add_argument("--iterations", type=int, default=300)
    p.add_argument("--griffin-lim", type=int, default=500)
    p.add_argument("--threads", type=int, default=0, help="TF intra-op threads (0 = TF default)")
    p.add_argument("--json", required=True)
    args = p.parse_args()

    import librosa
    import soundfile as sf
    import tensorflow as tf
    from scipy.optimize import minimize

    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    n_fft = 2048
    t0 = time.perf_counter()
    for path in filter(None, (args.content, args.style)):  # the notebook's read_audio_spectum
        x, fs = librosa.load(path)
        np.log1p(np.abs(librosa.stft(x, n_fft=n_fft)))
    data = np.load(args.inputs)
    kernel = data["kernel"].astype(np.float32)  # (1, width, bins, filters)
    x0 = data["x0"].astype(np.float32)  # (1, 1, T, bins)
    style = data["style_spec"].astype(np.float32)  # (1, 1, T_s, bins)
    content = data["content_spec"].astype(np.float32) if args.content else None
    load_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    kernel_tf = tf.constant(kernel)

    def net(x: tf.Tensor) -> tf.Tensor:
        return tf.nn.relu(tf.nn.conv2d(x, kernel_tf, strides=[1, 1, 1, 1], padding="VALID"))

    def gram(feats: tf.Tensor) -> tf.Tensor:
        f = tf.reshape(feats, (-1, feats.shape[-1]))  # (N, filters)
        return tf.matmul(f, f, transpose_a=True) / tf.cast(tf.shape(f)[0], tf.float32)

    style_gram = gram(net(tf.constant(style)))
    content_features = net(tf.constant(content)) if content is not None else None
    alpha = args.alpha if content is not None else 0.0

    @tf.function(input_signature=[tf.TensorSpec(x0.shape, tf.float32)])
    def loss_and_grad(x: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        with tf.GradientTape() as tape:
            tape.watch(x)
            feats = net(x)
            loss = 2 * tf.nn.l2_loss(gram(feats) - style_gram)
            if content_features is not None and alpha > 0:
                loss += alpha * 2 * tf.nn.l2_loss(feats - content_features)
        return loss, tape.gradient(loss, x)

    count = [0]

    def fun(v: np.ndarray) -> tuple[float, np.ndarray]:
        count[0] += 1
        loss, grad = loss_and_grad(tf.constant(v.reshape(x0.shape).astype(np.float32)))
        return float(loss), grad.numpy().astype(np.float64).ravel()

    loss_and_grad(tf.constant(x0))  # trace the graph outside the timed optimisation
    setup_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    res = minimize(fun, x0.astype(np.float64).ravel(), jac=True, method="L-BFGS-B",
                   options={"maxiter": args.iterations})
    opt_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    result = res.x.reshape(x0.shape)[0, 0].T  # (bins, T)
    a = np.exp(result) - 1
    rng = np.random.default_rng(0)
    p_ = 2 * np.pi * rng.random(a.shape) - np.pi
    y = np.zeros(1)
    for _ in range(args.griffin_lim):  # the notebook's phase reconstruction
        y = librosa.istft(a * np.exp(1j * p_))
        p_ = np.angle(librosa.stft(y, n_fft=n_fft))
    gl_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    peak = float(np.abs(y).max()) or 1.0
    sf.write(args.output, (y / peak).astype(np.float32), 22050, subtype="PCM_16")
    write_s = time.perf_counter() - t0
    with open(args.json, "w") as fh:
        json.dump({"loss": float(res.fun), "iterations": int(res.nit),
                   "evaluations": int(count[0]), "seconds": {
                       "load": load_s, "setup": setup_s, "optimisation": opt_s,
                       "reconstruction": gl_s, "write": write_s}}, fh)


if __name__ == "__main__":
    main()
