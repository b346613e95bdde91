"""Fixtures of the command-line tests: failures injected into the loss that every method uses."""

from __future__ import annotations

import pytest
import torch

from shared import LossTerms, StyleContentObjective

CPU_ALLOCATOR_ERROR = ("[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't "
                       "allocate memory: you tried to allocate 40000000000000 bytes. Error code 12 "
                       "(Cannot allocate memory)")  # what torch raises when the CPU runs out

# name -> pieces of the one-line message the user must get: every kind of out-of-memory says
# it was memory and names the flags that lower it (each tool's advice starts "lower --").
LOSS_FAILURES = {
    "non-finite loss": ("the loss became nan", "lower"),
    "CUDA out of memory": ("out of memory", "lower --"),
    "CPU out of memory": ("out of memory", "can't allocate memory", "lower --"),
    "Python MemoryError": ("out of memory", "lower --"),
}


@pytest.fixture(params=list(LOSS_FAILURES))
def failing_loss(request: pytest.FixtureRequest,
                 monkeypatch: pytest.MonkeyPatch) -> tuple[str, ...]:
    """Make every evaluation of :class:`shared.StyleContentObjective` (the loss of the audio,
    Gatys and feed-forward methods) fail: a NaN total, or an out-of-memory error as CUDA, the
    CPU allocator or Python raise it. Returns pieces of the message the CLI must print."""
    kind = request.param
    real = StyleContentObjective.forward

    def forward(self: StyleContentObjective, *args: object, **kwargs: object) -> LossTerms:
        if kind == "CUDA out of memory":
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB. GPU 0 "
                                         "has a total capacity of 79.19 GiB of which 1.2 GiB is "
                                         "free.")
        if kind == "CPU out of memory":
            raise RuntimeError(CPU_ALLOCATOR_ERROR)
        if kind == "Python MemoryError":
            raise MemoryError
        terms = real(self, *args, **kwargs)  # type: ignore[arg-type]
        return LossTerms(total=terms.total * float("nan"), terms=terms.terms,
                         layers=terms.layers)

    monkeypatch.setattr(StyleContentObjective, "forward", forward)
    return LOSS_FAILURES[kind]
