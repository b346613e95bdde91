"""Keeping freed memory in the process, so that each loss evaluation stops page-faulting.

glibc's ``malloc`` serves every block above its mmap threshold (at most 32 MiB, adjusted at
run time) with a fresh ``mmap`` and gives it back to the kernel on ``free``. An optimisation
loop allocates the same large buffers on every evaluation: the 4096 x 4096 Gram of the audio
network (64 MiB), oneDNN's convolution scratch, VGG's activations. Each new mapping is touched
page by page, so the kernel zero-fills it through one minor page fault per 4 KiB page.

On the 2-core development machine one loss-and-gradient evaluation of the audio reference's
network took 0.75-0.83 s with 111,761 minor faults, and 0.61-0.64 s with none after
:func:`retain_freed_memory` (TensorFlow's own allocator keeps its memory, which is why the
reference's evaluations were as fast as ours before).

The cost: memory the process has freed stays mapped to it, up to ``trim_bytes`` of free memory
at the top of the heap, and where a later stage allocates blocks of other sizes it adds to the
peak (``docs/long-audio.md``, "Memory"). So the pipelines call :func:`retain_freed_memory`
before they optimise and :func:`release_freed_memory` after each stage; :func:`shared.optimize`
leaves the allocator alone. ``STYLETOOLKIT_MALLOC=system`` in the environment turns both off.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_done = False


def retain_freed_memory(mmap_bytes: int = 1 << 30, trim_bytes: int = (1 << 31) - 1) -> bool:
    """Tune glibc's ``malloc`` (``mallopt``) to serve blocks below ``mmap_bytes`` from its heap
    and to keep up to ``trim_bytes`` of freed memory there. Idempotent; safe to call anywhere.

    Returns:
        Whether the allocator was tuned: False off Linux/glibc, when
        ``STYLETOOLKIT_MALLOC=system`` is set, or when ``mallopt`` refuses.
    """
    global _done
    if _done:
        return True
    if not sys.platform.startswith("linux") or os.environ.get("STYLETOOLKIT_MALLOC") == "system":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and others have no mallopt
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    _done = bool(mallopt(_M_MMAP_THRESHOLD, int(mmap_bytes))
                 and mallopt(_M_TRIM_THRESHOLD, int(trim_bytes)))
    return _done


def release_freed_memory() -> bool:
    """Give the memory freed so far back to the system (glibc's ``malloc_trim(0)``: every
    free page of every arena), once a stage whose buffers :func:`retain_freed_memory` kept is
    over. Returns whether it ran: False where :func:`retain_freed_memory` did not tune
    anything."""
    if not _done:
        return False
    try:
        trim = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return False
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    trim(0)
    return True


__all__ = ["release_freed_memory", "retain_freed_memory"]
