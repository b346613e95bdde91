"""Multi-process training: which process this is, its device, agreeing on a stop.

Under ``torchrun`` (``WORLD_SIZE > 1``) every process joins one process group
(:func:`shared.distributed.join_torchrun_group`: NCCL with one GPU per process on CUDA, gloo
on the CPU); a single process needs no group at all.
"""

from __future__ import annotations

import torch
import torch.distributed as dist

from shared import select_device
from shared.distributed import GroupPlace, join_torchrun_group, leave_group

DistInfo = GroupPlace  # where this process sits in a (possibly single-process) run


def init_distributed(device_spec: str) -> tuple[DistInfo, torch.device]:
    """Join the process group when launched by torchrun (``WORLD_SIZE > 1``); pick the device
    (``cuda:LOCAL_RANK`` for ``auto`` or ``cuda`` in a group)."""
    info, device = join_torchrun_group(device_spec)
    return info, select_device(device)


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
        leave_group(wait=True)


__all__ = ["DistInfo", "any_rank", "finish_distributed", "init_distributed"]
