"""Audio style transfer and audio texture synthesis (Ulyanov & Lebedev 2016) on PyTorch.

* :func:`style_transfer`, :func:`texture_synthesis`: the Python API (return :class:`AudioResult`).
* :class:`AudioStyleConfig` (in parts: :mod:`audiostyle.config`), :func:`preset_config`: every
  hyper-parameter; presets (:mod:`audiostyle.presets`).
* :func:`load_audio`, :func:`save_audio`: validated audio I/O (anything libsndfile reads);
  :func:`open_audio`: a file checked whole and read on demand (inputs of any length).
* :class:`RandomConvBank`: the untrained random convolution features.
* :class:`StageStep`: what the API's ``callback`` receives after each iteration.
* :mod:`audiostyle.spectral`: log spectrograms, Griffin-Lim, spectral convergence;
  :mod:`audiostyle.quality`: held-out measures; :mod:`audiostyle.plots`: figures.
* ``audiostyle`` / ``python -m audiostyle``: the command-line tool (:mod:`audiostyle.cli`).

The modules import one way: signal helpers (``dsp``) -> audio I/O (``audio``, ``stream``) ->
``spectral``, ``network``, ``pghi``, ``rhythm`` -> ``bands`` -> ``config``, ``presets`` -> ``targets`` ->
``objective`` -> ``memory``, ``parallel`` -> ``stages`` -> ``windows`` -> ``pipeline`` -> ``api`` ->
``quality``, ``plots`` -> ``cli`` (``tests/cli/test_edges.py`` checks it).
"""

from .api import style_transfer, texture_synthesis
from .audio import AudioClip, load_audio, save_audio
from .config import AudioStyleConfig
from .network import RandomConvBank
from .pipeline import AudioResult
from .presets import PRESETS, preset_config
from .stages import StageStep
from .stream import AudioFile, open_audio

__all__ = ["AudioClip", "AudioFile", "AudioResult", "AudioStyleConfig", "PRESETS",
           "RandomConvBank", "StageStep", "load_audio", "open_audio", "preset_config",
           "save_audio", "style_transfer", "texture_synthesis"]
