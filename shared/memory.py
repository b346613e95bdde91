"""Memory a run may have, checked against an estimate before the work starts.

Each pipeline estimates what a run will need from its settings and input sizes (an
:class:`Estimate`: bytes on the compute device and on the host, by part, each part naming the
settings that size it) and calls :func:`check_fits` before any large allocation: a run that
cannot fit is refused in a second with one line naming the settings to lower, instead of
failing minutes later in the allocator. :func:`available_bytes` is what this process can still
have: the system's available memory, capped by a cgroup limit and the address-space limit; on
CUDA, the device's free memory plus what PyTorch already holds in reserve.
"""

from __future__ import annotations

import os
import resource
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Optional, Sequence

import torch

HEADROOM = 0.85  # a run may plan to use at most this share of what is available


@dataclass
class Estimate:
    """Bytes a run needs, by part: ``parts[name] = (bytes, settings that size it)``; each
    part is on the compute device or on the host (``host`` names the host's parts; on the
    CPU both are one memory)."""

    parts: dict[str, tuple[float, tuple[str, ...]]] = field(default_factory=dict)
    host: set[str] = field(default_factory=set)

    def add(self, name: str, nbytes: float, settings: Sequence[str], host: bool = False) -> None:
        old = self.parts.get(name, (0.0, ()))[0]
        self.parts[name] = (old + float(nbytes), tuple(settings))
        if host:
            self.host.add(name)

    def total(self, where: Optional[str] = None) -> float:
        """Bytes on ``"device"``, on ``"host"``, or everywhere (None)."""
        return sum(b for n, (b, _) in self.parts.items()
                   if where is None or (n in self.host) == (where == "host"))

    def culprits(self, where: Optional[str] = None) -> list[str]:
        """The settings of the largest parts, largest first, covering most of the total."""
        rows = sorted(((b, s) for n, (b, s) in self.parts.items()
                       if where is None or (n in self.host) == (where == "host")), reverse=True)
        out: list[str] = []
        covered, total = 0.0, max(sum(b for b, _ in rows), 1.0)
        for b, settings in rows:
            out += [s for s in settings if s not in out]
            covered += b
            if covered >= 0.8 * total and out:
                break
        return out


def size_text(nbytes: float) -> str:
    """``1.76e14`` -> ``"176 TB"`` (decimal units, two or three significant figures)."""
    for unit, scale in (("EB", 1e18), ("PB", 1e15), ("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
        if nbytes >= scale:
            value = nbytes / scale
            return f"{value:.0f} {unit}" if value >= 10 else f"{value:.1f} {unit}"
    return f"{nbytes / 1e3:.0f} kB"


def _cgroup_room() -> Optional[int]:
    """Bytes the process's cgroup (v2) still allows, None without a limit."""
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit == "max":
            return None
        used = int(Path("/sys/fs/cgroup/memory.current").read_text().strip())
        return max(0, int(limit) - used)
    except (OSError, ValueError):
        return None


def _address_room() -> Optional[int]:
    """Bytes of address space ``ulimit -v`` still allows, None without a limit."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY:
        return None
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[0])
        return max(0, soft - pages * os.sysconf("SC_PAGE_SIZE"))
    except (OSError, ValueError):
        return soft


def _system_available() -> Optional[int]:
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def available_bytes(device: torch.device | str = "cpu") -> Optional[int]:
    """Memory this process can still have on ``device``, in bytes (None if unknown)."""
    device = torch.device(device)
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return int(free + torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device))
    rooms = [r for r in (_system_available(), _cgroup_room(), _address_room()) if r is not None]
    return min(rooms) if rooms else None


def check_fits(estimate: Estimate, device: torch.device | str, what: str,
               available: Optional[dict[str, Optional[int]]] = None) -> None:
    """Raise ``ValueError`` when ``estimate`` does not fit what this process can have.

    The message says what the run needs and for what (``what``, e.g. ``"seconds 1e+09 with
    filters 64"``, naming settings so that each tool can show them as its flags), what is
    available, and which settings to lower (those of the largest parts).

    Args:
        available: ``{"device": bytes, "host": bytes}`` instead of asking the system (tests).
    """
    device = torch.device(device)
    places = ["device", "host"] if device.type == "cuda" else [None]
    for where in places:
        need = estimate.total(where)
        key = where or "host"
        free = (available or {}).get(key) if available is not None else available_bytes(
            device if where == "device" else "cpu")
        if free is None or need <= HEADROOM * free:
            continue
        memory = {"device": f"{device} memory", "host": "host memory"}.get(key) \
            if where else "memory"
        lower = " or ".join(estimate.culprits(where))
        raise ValueError(f"needs about {size_text(need)} of {memory} for {what}; "
                         f"{size_text(free)} available: lower {lower}")


def activation_floats(modules: Iterable[torch.nn.Module], run: Callable[[], object]) -> int:
    """Elements of the outputs of every leaf module of ``modules`` while ``run()`` runs
    (without gradients): what a forward pass of that size makes, for estimates that scale a
    small probe up to a run's size."""
    count = [0]

    def hook(_module: torch.nn.Module, _inputs: object, output: object) -> None:
        for t in (output if isinstance(output, (tuple, list)) else
                  output.values() if isinstance(output, dict) else [output]):
            if isinstance(t, torch.Tensor):
                count[0] += t.numel()

    handles = [m.register_forward_hook(hook) for module in modules for m in module.modules()
               if not list(m.children())]
    try:
        with torch.no_grad():
            run()
    finally:
        for h in handles:
            h.remove()
    return count[0]


__all__ = ["Estimate", "HEADROOM", "activation_floats", "available_bytes", "check_fits",
           "size_text"]
