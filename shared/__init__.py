"""The loss core shared by the audio and image pipelines.

* :func:`gram_matrix`, :func:`blend_grams`: style statistics for features of any dimensionality;
  :class:`GramSum`: a Gram accumulated over chunks of positions (inputs of any length).
* :func:`content_loss`, :func:`style_loss`, :func:`gram_style_loss`, :func:`tv_loss`: the loss
  terms, pure functions (``gram_style_loss`` fuses the Gram and its style loss).
* :class:`StyleContentObjective`: named layers -> weighted content, style and TV terms.
* :func:`optimize`: the one optimisation loop (L-BFGS or Adam) every method uses;
  :func:`deferred_interrupts`: Ctrl-C held back until the loop can stop on it.
* :func:`select_device`, :func:`autocast`, :func:`seed_everything`: device choice, mixed
  precision and reproducibility; :func:`native_bf16`, :func:`resolve_precision`: where
  bfloat16 arithmetic pays.
* :func:`retain_freed_memory`: keep freed memory in the process (no page faults per evaluation).
* :func:`atomic_path`, :func:`atomic_write`, :func:`check_output_path`: safe output files;
  :func:`check_input_file`: an input that exists, is a file and is not empty.
"""

from .allocator import release_freed_memory, retain_freed_memory
from .device import (autocast, native_bf16, resolve_precision, seed_everything,
                     select_device)
from .errors import UserError
from .gram import GramSum, blend_grams, gram_matrix, normalize_blend_weights
from .io import atomic_path, atomic_write, check_input_file, check_output_path
from .losses import content_loss, gram_style_loss, style_loss, tv_loss
from .objective import LossTerms, StyleContentObjective
from .optim import (NonFiniteLossError, OptimConfig, OptimResult, deferred_interrupts,
                    interrupt_requested, note_interrupt, optimize)

__all__ = [
    "GramSum",
    "LossTerms",
    "NonFiniteLossError",
    "OptimConfig",
    "OptimResult",
    "StyleContentObjective",
    "UserError",
    "atomic_path",
    "atomic_write",
    "autocast",
    "blend_grams",
    "check_input_file",
    "check_output_path",
    "content_loss",
    "deferred_interrupts",
    "gram_matrix",
    "gram_style_loss",
    "interrupt_requested",
    "native_bf16",
    "normalize_blend_weights",
    "note_interrupt",
    "optimize",
    "release_freed_memory",
    "resolve_precision",
    "retain_freed_memory",
    "seed_everything",
    "select_device",
    "style_loss",
    "tv_loss",
]
