"""Measured peak memory of a run, in a fresh process: what the estimates are held against."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import NamedTuple

_PROBE = textwrap.dedent("""
    import contextlib, json, os, tempfile
    import torch
    from torch.profiler import ProfilerActivity, profile
    torch.set_num_threads(1)
    setup = {setup!r}
    run = {run!r}
    scope = {{}}
    exec(setup, scope)
    def status(key):
        for line in open("/proc/self/status"):
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    before = status("VmRSS")
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")  # the peak (VmHWM) counts from here: the set-up's own peak is left out
    prof = profile(activities=[ProfilerActivity.CPU], profile_memory=True) if {tensors!r} \\
        else contextlib.nullcontext()
    with prof:
        exec(run, scope)  # may set the estimate itself (one the run computes)
    resident = status("VmHWM") - before
    tensors = 0
    if {tensors!r}:
        fd, trace = tempfile.mkstemp(suffix=".json")
        os.close(fd)
        prof.export_chrome_trace(trace)
        with open(trace) as fh:
            events = json.load(fh)["traceEvents"]
        os.unlink(trace)
        tensors = max((e["args"]["Total Allocated"] for e in events
                       if e.get("name") == "[memory]"), default=0)
    print(json.dumps({{"estimate": scope["estimate"], "resident": resident, "tensors": tensors}}))
""")


class Peaks(NamedTuple):
    """Bytes: the estimate, the resident peak above the set-up's (``VmHWM``) and the peak of
    live tensor bytes the allocator handed out (the profiler's "Total Allocated")."""

    estimate: float
    resident: float
    tensors: float


def _probe(setup: str, run: str, tensors: bool) -> Peaks:
    code = _PROBE.format(setup=setup, run=run, tensors=tensors)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    data = json.loads(out.strip().splitlines()[-1])
    return Peaks(float(data["estimate"]), float(data["resident"]), float(data["tensors"]))


def estimate_and_peak(setup: str, run: str) -> tuple[float, float]:
    """``(estimate, measured)`` bytes: ``setup`` runs first and sets ``estimate`` (or
    ``run`` does); the measured figure is the process's peak resident memory during ``run``
    above what it held before (Linux's ``VmHWM``, reset just before ``run`` through
    ``/proc/self/clear_refs``)."""
    peaks = _probe(setup, run, tensors=False)
    return peaks.estimate, peaks.resident


def estimate_and_peaks(setup: str, run: str) -> Peaks:
    """Like :func:`estimate_and_peak`, with the peak of live tensor bytes as well (the run
    under the profiler).

    The tensor peak is the same on every run of the same code. The resident peak is not: on
    the same 240 s texture it measured 254-433 MB against a tensor peak of 238 MB, because
    the malloc heap and the libraries' scratch space come on top in varying amounts
    (docs/results/2026-12-02-adhoc-memory-peaks.md)."""
    return _probe(setup, run, tensors=True)
