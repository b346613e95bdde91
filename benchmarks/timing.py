"""Timing helpers shared by the benchmarks: device synchronisation and the matmul rate."""

from __future__ import annotations

import time

import torch


def sync(device: torch.device) -> None:
    """Wait for queued CUDA work, so wall-clock timings measure it (no-op elsewhere)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_gflops(m: int, k: int, n: int, device: torch.device, repeats: int = 5) -> float:
    """Best-of-``repeats`` float32 ``(m, k) @ (k, n)`` rate in GFLOP/s, after one warm-up."""
    a = torch.randn(m, k, device=device)
    b = torch.randn(k, n, device=device)
    a @ b
    sync(device)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        sync(device)
        best = min(best, time.perf_counter() - start)
    return 2.0 * m * k * n / best / 1e9
