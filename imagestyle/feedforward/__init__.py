"""Feed-forward style transfer: networks trained once per style, applied in one forward pass.

* :mod:`.networks`: Johnson et al.'s :class:`TransformNet` and Ulyanov et al.'s :class:`TextureNet`.
* :mod:`.data`: a recursive image-folder dataset and a resumable distributed sampler.
* :mod:`.train`: :func:`train`, the entry point (checkpoints, resume, DDP, bf16, Ctrl-C), built
  from :mod:`.config` (:class:`TrainConfig`), :mod:`.trainer` (the step) and the training
  infrastructure every pipeline shares, :mod:`shared.training`.
* :mod:`.modelfile`: the model file and checkpoint formats, validated on load.
* :mod:`.stylize`, :mod:`.sample`, :mod:`.export`: using trained models.
* :mod:`.cli`: the ``train``, ``stylize``, ``sample`` and ``export`` subcommands.
"""

from .modelfile import ModelInfo, load_model
from .networks import TextureNet, TextureNetConfig, TransformNet, TransformNetConfig

__all__ = ["ModelInfo", "TextureNet", "TextureNetConfig", "TransformNet", "TransformNetConfig",
           "load_model"]
