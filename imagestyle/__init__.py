"""Image style transfer and texture synthesis (Python API of the ``imagestyle`` command).

* :func:`stylize`, :func:`synthesize_texture`, :class:`GatysConfig`: Gatys et al. 2016/2015
  by optimisation (:mod:`imagestyle.gatys`).
* :func:`build_extractor`, :data:`DEFAULT_LAYERS`: VGG-16/19 (:mod:`imagestyle.vgg`) and the
  random multi-scale network of Ustyuzhaninov et al. 2017 (:mod:`imagestyle.random_multiscale`);
  :func:`feature_layout`: their layer layouts (names, channels, strides), without building them.
* :func:`load_image`, :func:`save_image`: image files as ``(1, 3, H, W)`` tensors in [0, 1].
* :func:`restore_chrominance`, :func:`match_color_histogram`: colour preservation.
* :mod:`imagestyle.metrics`: held-out texture measures.
"""

from .color import match_color_histogram, restore_chrominance
from .features import DEFAULT_LAYERS, MODELS, build_extractor, feature_layout
from .gatys import GatysConfig, GatysResult, stylize, synthesize_texture, texture_config
from .imageio import load_image, save_image

__all__ = [
    "DEFAULT_LAYERS",
    "GatysConfig",
    "GatysResult",
    "MODELS",
    "build_extractor",
    "feature_layout",
    "load_image",
    "match_color_histogram",
    "restore_chrominance",
    "save_image",
    "stylize",
    "synthesize_texture",
    "texture_config",
]
