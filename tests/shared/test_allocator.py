"""shared.retain_freed_memory: freed large blocks are reused without page faults."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
import torch

from shared.gram import symmetric_times

_FAULTS = textwrap.dedent("""
    import resource, sys, torch
    import shared
    tuned = shared.retain_freed_memory() if sys.argv[1] == "tuned" else False
    def faults():
        return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    g = torch.Generator().manual_seed(0)
    w = torch.randn(2048, 513, 11, generator=g) * 0.01  # 46 MiB: oneDNN reorders it per call
    x = torch.rand(1, 513, 200, generator=g, requires_grad=True)
    counts = []
    for _ in range(8):  # evaluations of an audio-like loss: convolution, Gram (16 MiB), backward
        before = faults()
        f = torch.relu_(torch.nn.functional.conv1d(x, w))
        shared.gram_style_loss(f, torch.zeros(1, 2048, 2048)).backward()
        counts.append(faults() - before)
    print(tuned, sum(counts[3:]))
""")


def _faults(mode: str, env: dict[str, str] | None = None) -> tuple[str, int]:
    out = subprocess.run([sys.executable, "-c", _FAULTS, mode], capture_output=True, text=True,
                         check=True, env=env).stdout.split()
    return out[0], int(out[1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt is Linux's")
def test_repeated_evaluations_stop_page_faulting_once_tuned() -> None:
    """Untuned, each evaluation here page-faults about 30,000 pages (120 MiB mapped afresh);
    tuned, the freed blocks are reused from the third evaluation on."""
    tuned, faults = _faults("tuned")
    assert tuned == "True" and faults < 1000


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt is Linux's")
def test_the_environment_turns_it_off() -> None:
    import os

    tuned, _ = _faults("tuned", {**os.environ, "STYLETOOLKIT_MALLOC": "system"})
    assert tuned == "False"


@pytest.mark.parametrize("b,c,n", [(1, 64, 7), (3, 16, 40)])
def test_symmetric_times_is_the_product(b: int, c: int, n: int) -> None:
    g = torch.Generator().manual_seed(0)
    a = torch.randn(b, c, c, generator=g, dtype=torch.float64)
    sym, f = a + a.transpose(1, 2), torch.randn(b, c, n, generator=g, dtype=torch.float64)
    out = symmetric_times(sym, f)
    assert out.shape == (b, c, n)
    torch.testing.assert_close(out, torch.bmm(sym, f))


_RELEASE = textwrap.dedent("""
    import sys, torch
    import shared
    def rss_mb():
        with open("/proc/self/status") as f:
            return next(int(l.split()[1]) for l in f if l.startswith("VmRSS")) // 1024
    shared.retain_freed_memory()
    parts = [torch.ones(4 << 20) for _ in range(50)]  # 50 x 16 MiB from the heap
    del parts
    kept = rss_mb()
    released = shared.release_freed_memory()
    print(released, kept, rss_mb())
""")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim is Linux's")
def test_release_gives_the_kept_memory_back() -> None:
    """800 MiB freed under the tuning stays resident; released, it leaves the process."""
    out = subprocess.run([sys.executable, "-c", _RELEASE], capture_output=True, text=True,
                         check=True).stdout.split()
    released, kept, after = out[0], int(out[1]), int(out[2])
    assert released == "True"
    assert kept - after > 600, (kept, after)
