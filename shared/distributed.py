"""Joining the process group that ``torchrun`` describes, for every pipeline that spreads work.

``torchrun`` (or a parent that sets the same variables: ``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``) starts one process per device. Each joins
one ``torch.distributed`` group: NCCL with one GPU per process on CUDA, gloo on the CPU. A
single process (``WORLD_SIZE`` unset or 1) joins nothing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class GroupPlace:
    """Where this process sits in a (possibly single-process) run."""

    rank: int = 0  # this process's rank
    world_size: int = 1  # number of processes
    local_rank: int = 0  # rank on this machine (its GPU index on CUDA)

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that writes files and logs."""
        return self.rank == 0


def join_torchrun_group(device: str) -> tuple[GroupPlace, str]:
    """Join the group described by torchrun's environment, if there is one.

    Args:
        device: The requested device. In a group, ``"auto"`` and ``"cuda"`` become
            ``cuda:<LOCAL_RANK>`` (modulo the GPUs present) when CUDA is available, and
            ``"auto"`` becomes ``"cpu"`` otherwise; a named device (``"cpu"``, ``"cuda:1"``)
            is kept.

    Returns:
        This process's :class:`GroupPlace` and its device name (``device`` unchanged outside a
        group).
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return GroupPlace(), device
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", str(rank)))
    if device in ("auto", "cuda") and torch.cuda.is_available():
        device = f"cuda:{local % torch.cuda.device_count()}"
    elif device == "auto":
        device = "cpu"
    if device.startswith("cuda"):
        torch.cuda.set_device(torch.device(device))
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")
    return GroupPlace(dist.get_rank(), dist.get_world_size(), local), device


def leave_group(wait: bool = False) -> None:
    """Leave the torch.distributed group, if this process is in one (after a barrier with
    ``wait``).

    Every rank must do this before it exits: a gloo group still alive at interpreter exit
    destroys its worker threads unjoined and the process aborts ("terminate called without
    an active exception", SIGABRT).
    """
    if dist.is_available() and dist.is_initialized():
        if wait:
            dist.barrier()
        dist.destroy_process_group()


__all__ = ["GroupPlace", "join_torchrun_group", "leave_group"]
