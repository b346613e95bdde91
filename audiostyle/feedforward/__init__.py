"""Feed-forward audio style transfer: a network trained once per style, then one pass a clip.

* :mod:`.networks`: causal convolutional networks over short STFT frames
  (:class:`AudioTransformNet` stylises, :class:`AudioTextureNet` draws texture from noise),
  streamable block by block.
* :mod:`.render`: samples in and out, whole clips and live streams (:class:`Streamer`).
* :mod:`.config`, :mod:`.data`, :mod:`.trainer`, :mod:`.train`: training on the optimisation's
  own objective, with the training infrastructure every pipeline shares
  (:mod:`shared.training`).
* :mod:`.modelfile`, :mod:`.stylize`, :mod:`.export`: model files, using them on files,
  TorchScript and ONNX.
* :mod:`.cli`: ``audiostyle train``, ``stylize``, ``sample`` and ``export``.
"""

from .config import AudioTrainConfig
from .modelfile import ModelInfo, load_model
from .networks import AudioTextureNet, AudioTransformNet, FrameCodec, NetworkConfig
from .render import Streamer, stylize_samples
from .stylize import sample_file, sample_wave, stylize_files, stylize_wave
from .train import train

__all__ = ["AudioTextureNet", "AudioTrainConfig", "AudioTransformNet", "FrameCodec", "ModelInfo",
           "NetworkConfig", "Streamer", "load_model", "sample_file", "sample_wave",
           "stylize_files", "stylize_samples", "stylize_wave", "train"]
