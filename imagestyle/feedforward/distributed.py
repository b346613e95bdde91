"""Multi-process set-up of training: which process this is, its device, agreeing on a stop.

Under ``torchrun`` (``WORLD_SIZE > 1``) every process joins one process group (NCCL with one
GPU per process on CUDA, gloo on the CPU); a single process needs no group at all.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from shared import select_device


@dataclass
class DistInfo:
    """Where this process sits in a (possibly single-process) run."""

    rank: int = 0  # this process's rank
    world_size: int = 1  # number of processes
    local_rank: int = 0  # rank on this machine (its GPU index on CUDA)

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that writes files and logs."""
        return self.rank == 0


def init_distributed(device_spec: str) -> tuple[DistInfo, torch.device]:
    """Join the process group when launched by torchrun (``WORLD_SIZE > 1``); pick the device.

    NCCL with one GPU per process (``cuda:LOCAL_RANK``) on CUDA, gloo on the CPU.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo(), select_device(device_spec)
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = select_device(device_spec)
    if device.type == "cuda":
        device = torch.device("cuda", local_rank % torch.cuda.device_count())
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return DistInfo(rank, world, local_rank), device


def any_rank(flag: bool, info: DistInfo, device: torch.device) -> bool:
    """True if ``flag`` is set on any process (so all processes stop at the same step)."""
    if info.world_size == 1:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)


def finish_distributed(info: DistInfo) -> None:
    """Wait for every process, then leave the process group (nothing for one process)."""
    if info.world_size > 1:
        dist.barrier()
        dist.destroy_process_group()
