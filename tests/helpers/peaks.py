"""Measured peak memory of a run, in a fresh process: what the estimates are held against."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

_PROBE = textwrap.dedent("""
    import json, sys
    import torch
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
    exec(run, scope)  # may set the estimate itself (one the run computes)
    peak = status("VmHWM")
    print(json.dumps({{"estimate": scope["estimate"], "measured": peak - before}}))
""")


def estimate_and_peak(setup: str, run: str) -> tuple[float, float]:
    """``(estimate, measured)`` bytes: ``setup`` runs first and sets ``estimate`` (or
    ``run`` does); the
    measured figure is the process's peak resident memory during ``run`` above what it held
    before (Linux's ``VmHWM``, reset just before ``run`` through ``/proc/self/clear_refs``)."""
    out = subprocess.run([sys.executable, "-c", _PROBE.format(setup=setup, run=run)],
                         capture_output=True, text=True, check=True).stdout
    data = json.loads(out.strip().splitlines()[-1])
    return float(data["estimate"]), float(data["measured"])
