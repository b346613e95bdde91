"""Audio style transfer and audio texture synthesis (Ulyanov & Lebedev 2016) on PyTorch.

* :func:`style_transfer`, :func:`texture_synthesis`: the Python API (return :class:`AudioResult`).
* :class:`AudioStyleConfig`, :func:`preset_config`: every hyper-parameter; presets.
* :func:`load_audio`, :func:`save_audio`: validated audio I/O (anything libsndfile reads);
  :func:`open_audio`: a file checked whole and read on demand (inputs of any length).
* :class:`RandomConvBank`: the untrained random convolution features.
* :mod:`audiostyle.spectral`: log spectrograms, Griffin-Lim, spectral convergence.
* :mod:`audiostyle.plots`: spectrogram and loss figures.
* ``audiostyle`` / ``python -m audiostyle``: the command-line tool (:mod:`audiostyle.cli`).
"""

from .audio import AudioClip, load_audio, save_audio
from .config import PRESETS, AudioStyleConfig, preset_config
from .network import RandomConvBank
from .stream import AudioFile, open_audio
from .transfer import AudioResult, style_transfer, texture_synthesis

__all__ = ["AudioClip", "AudioFile", "AudioResult", "AudioStyleConfig", "PRESETS",
           "RandomConvBank", "load_audio", "open_audio", "preset_config", "save_audio",
           "style_transfer", "texture_synthesis"]
