"""Spreading a long style transfer's windows over processes and devices (torch.distributed).

The windows of a style transfer (:mod:`audiostyle.windows`) are independent given the style
target, so each process of a ``torch.distributed`` group optimises its share (window ``i``
goes to rank ``i % world``), rank 0 gathers the optimised windows, joins them, runs
Griffin-Lim and writes. Two ways in, one code path:

* Started N times by torchrun: the CLI calls :func:`join`, which joins the group torchrun
  describes (NCCL on GPUs, gloo on the CPU; :mod:`shared.distributed`).
* Given a list of devices (``cuda:0,cuda:1``): the CLI starts one process per device
  (:func:`spawn`) that do the same.

Every window draws its noise from its own seeded stream (:class:`audiostyle.stages.Noise`), so the result does not depend on how many
processes share the work. Texture synthesis chains its windows (each continues the last),
so it runs on rank 0 alone; the other ranks wait.
"""

from __future__ import annotations

import os
import signal
import socket
from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence

import torch
import torch.distributed as dist

from shared import deferred_interrupts, note_interrupt, select_device
from shared.distributed import join_torchrun_group, leave_group


@dataclass(frozen=True)
class Workers:
    """This process's place in the group: ``rank`` of ``world`` (1: no group)."""

    rank: int = 0
    world: int = 1

    @property
    def leader(self) -> bool:
        """Rank 0: the process that joins, reconstructs and writes."""
        return self.rank == 0

    def share(self, count: int) -> list[int]:
        """This rank's items among ``count``: ``rank, rank + world, ...``."""
        return list(range(self.rank, count, self.world))

    def gather(self, item: Any) -> Optional[list[Any]]:
        """Every rank's ``item`` (picklable) on rank 0, in rank order; None on the others."""
        if self.world == 1:
            return [item]
        items: Optional[list[Any]] = [None] * self.world if self.leader else None
        dist.gather_object(item, items, dst=0)
        return items

    def any(self, flag: bool) -> bool:
        """Whether ``flag`` is true on any rank (every rank must call it)."""
        if self.world == 1:
            return flag
        flags: list[Any] = [None] * self.world
        dist.all_gather_object(flags, bool(flag))
        return any(flags)



def current() -> Workers:
    """The group this process belongs to (``Workers()`` when torch.distributed is not
    initialised)."""
    if dist.is_available() and dist.is_initialized():
        return Workers(dist.get_rank(), dist.get_world_size())
    return Workers()


def join(device: str) -> tuple[Workers, str]:
    """Join the group described by torchrun's environment, if any
    (:func:`shared.distributed.join_torchrun_group`). Returns this process's
    :class:`Workers` and its device."""
    place, device = join_torchrun_group(device)
    return Workers(place.rank, place.world_size), device


def parse_devices(text: str) -> list[str]:
    """``"cuda:0,cuda:1"`` -> ``["cuda:0", "cuda:1"]``, each checked with
    :func:`shared.select_device`; one name (``"auto"``, ``"cpu"``, ``"cuda"``) stays one.

    Raises ValueError (naming ``devices``) for an empty entry or a device that is not there.
    """
    names = [n.strip() for n in str(text).split(",")]
    if len(names) > 1 and not all(names):
        raise ValueError(f"devices must be names separated by commas, got {text!r}")
    if len(names) > 1:
        for n in names:
            select_device(n)
    return names


def free_port() -> int:
    """A TCP port free on this machine, for the group's rendezvous."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _child(rank: int, devices: Sequence[str], port: int, target: Callable[[str], int],
           codes: Any, stop: Any) -> None:
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(len(devices)),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    code = 1
    if devices[rank] == "cpu":  # share the cores instead of oversubscribing them
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // len(devices)))
    try:
        with deferred_interrupts():  # a Ctrl-C from here on is noted where it lands
            # held (not lost) while meeting the others, so that gloo's threads, started
            # meanwhile, inherit it blocked and never see one in a system call
            # a spawned child inherits the parent's mask, SIGINT blocked (spawn): unblocked
            # here, not restored, or only a thread that happens not to block it would see one
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
            try:
                join(devices[rank])
            finally:
                signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
            if stop.value:  # one that came while this process started (ignored): the
                note_interrupt()  # parent caught it; read after the rendezvous, long after
            code = target(devices[rank])
    finally:
        codes[rank] = code
        leave_group()


def spawn(target: Callable[[str], int], devices: Sequence[str]) -> int:
    """Run ``target(device)`` in one process per device, as one torch.distributed group.

    Ctrl-C (SIGINT to the terminal's process group) is for the children, and stops them
    wherever it lands: each starts with it ignored (a KeyboardInterrupt while importing
    torch or meeting the others would end it alone, the others failing in their next
    collective) and notes it once it can (:func:`shared.deferred_interrupts`); one that
    came before is caught by the parent, which passes it on. Rank 0 then writes the best
    result so far. Returns rank 0's exit code (a non-zero code of another rank if rank 0's
    is 0).
    """
    import torch.multiprocessing as mp

    shared = mp.get_context("spawn")
    codes = shared.Array("i", [1] * len(devices), lock=False)
    stop = shared.Value("b", 0, lock=False)

    def caught(signum: int, frame: object) -> None:
        stop.value = 1

    port = free_port()
    previous = signal.getsignal(signal.SIGINT)
    try:
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})  # held while switching
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the children inherit it ignored
        try:
            context = mp.start_processes(_child, args=(devices, port, target, codes, stop),
                                         nprocs=len(devices), join=False, start_method="spawn")
        finally:
            signal.signal(signal.SIGINT, caught)
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)  # one held meanwhile: caught now
        try:
            while not context.join():
                pass
        except Exception:  # a child failed: its traceback is already on stderr
            pass
    finally:
        signal.signal(signal.SIGINT, previous)
    first = codes[0]
    return first if first != 0 else next((c for c in codes if c != 0), 0)


__all__ = ["Workers", "current", "free_port", "join", "parse_devices", "spawn"]
