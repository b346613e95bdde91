"""``imagestyle train`` under ``torchrun``, with a look inside each process (not a test module).

Run as ``torchrun --nproc-per-node N ddp_worker.py OUT_DIR TRAIN_ARGS...``. Each rank runs the
real command line; when the trainer is built it records, before any step: its data shard, its
first batch, the gradient of its own batch alone (DDP's ``no_sync``) and the gradient after
DDP's all-reduce, in ``OUT_DIR/rank<R>.pt``. The recording leaves the run unchanged (no
optimiser step, gradients cleared, the data position untouched).
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import torch


def main() -> int:
    torch.set_num_threads(1)
    import imagestyle.feedforward.train as train_module
    from imagestyle.cli import main as cli_main

    out_dir = Path(sys.argv[1])

    class RecordingTrainer(train_module.Trainer):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            assert self.sampler is not None
            shard = list(self.sampler)
            batch = next(self.batches())  # a fresh generator: the trainer's position is kept
            grads = {}
            for name, sync in (("local", False), ("synced", True)):
                self.optimizer.zero_grad(set_to_none=True)
                with contextlib.nullcontext() if sync else self.train_net.no_sync():
                    total, _ = self.loss(batch)
                    total.backward()
                grads[name] = [p.grad.detach().clone() for p in self.net.parameters()]
            self.optimizer.zero_grad(set_to_none=True)
            torch.save({"shard": shard, "batch": batch, "world_size": self.dist.world_size,
                        **grads}, out_dir / f"rank{self.dist.rank}.pt")

    train_module.Trainer = RecordingTrainer
    return cli_main(sys.argv[2:])


if __name__ == "__main__":
    raise SystemExit(main())
