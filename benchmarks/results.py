"""Every benchmark run writes what it printed as a dated result file under ``docs/results/``.

``with recorded("bench_audio_quality"): main()`` tees standard output: the run prints its tables
as before, and on the way out (also after Ctrl-C or an error, marked so) the captured text is
written to ``docs/results/<YYYY-MM-DD>-<name>[-<n>].md``, headed by the command line, the
commit, the machine and the date, with a ``.json`` beside it holding the same facts and each
printed Markdown table as rows. Pages in ``docs/`` cite these files; figures are never copied
into code comments or ``--help``.

A run that asked for ``--help`` or printed nothing (an argument error) writes nothing.
``STYLETOOLKIT_RESULTS=off`` writes nothing (the tests' quick runs); ``STYLETOOLKIT_RESULTS=DIR``
writes there instead.
"""

from __future__ import annotations

import contextlib
import datetime
import io
import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Iterator, Optional

ROOT = Path(__file__).resolve().parents[1]


class _Tee(io.TextIOBase):
    """Writes to the real stream and keeps a copy."""

    def __init__(self, stream: io.TextIOBase) -> None:
        self.stream, self.copy = stream, io.StringIO()

    def write(self, text: str) -> int:
        self.copy.write(text)
        return self.stream.write(text)

    def flush(self) -> None:
        self.stream.flush()


def _commit() -> str:
    try:
        head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain",
                                "--untracked-files=no"], capture_output=True, text=True).stdout
        return head + (" (with uncommitted changes)" if dirty.strip() else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def machine() -> dict[str, object]:
    """What the run ran on."""
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {"cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "cpu_kernels": torch.backends.cpu.get_cpu_capability(), "gpu": gpu,
            "torch": torch.__version__, "python": platform.python_version(),
            "platform": platform.platform()}


def tables(text: str) -> list[list[list[str]]]:
    """The Markdown tables in ``text``: each a list of rows of cells (the separator row left
    out)."""
    out: list[list[list[str]]] = []
    current: list[list[str]] = []
    for line in text.splitlines() + [""]:
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if not all(set(c) <= set("-: ") for c in cells):
                current.append(cells)
        elif current:
            out.append(current)
            current = []
    return out


def _target(name: str, day: str) -> Path:
    folder = Path(os.environ.get("STYLETOOLKIT_RESULTS") or ROOT / "docs" / "results")
    folder.mkdir(parents=True, exist_ok=True)
    path, n = folder / f"{day}-{name}.md", 2
    while path.exists():
        path, n = folder / f"{day}-{name}-{n}.md", n + 1
    return path


def write(name: str, text: str, status: str, started: datetime.datetime,
          commit: Optional[str] = None) -> Optional[Path]:
    """Write one run's result file (and its ``.json``); returns its path (None when off).
    ``commit``: the checkout the run started on (default: now)."""
    if os.environ.get("STYLETOOLKIT_RESULTS") == "off":
        return None
    day = started.strftime("%Y-%m-%d")
    facts = {"benchmark": name, "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
             "commit": commit or _commit(), "started": started.isoformat(timespec="seconds"),
             "status": status, "machine": machine()}
    path = _target(name, day)
    head = [f"# {name}, {day}", ""] + [f"- {k}: {v}" for k, v in facts.items() if k != "machine"]
    head.append("- machine: " + ", ".join(f"{k} {v}" for k, v in facts["machine"].items()))
    path.write_text("\n".join(head) + "\n\n" + text.strip() + "\n")  # the tables print as Markdown
    path.with_suffix(".json").write_text(json.dumps({**facts, "tables": tables(text),
                                                     "output": text}, indent=1) + "\n")
    return path


@contextlib.contextmanager
def recorded(name: str) -> Iterator[None]:
    """Run the block with standard output teed; write its result file afterwards."""
    started, commit = datetime.datetime.now(), _commit()  # what the run measures
    tee = _Tee(sys.stdout)  # type: ignore[arg-type]
    status = "finished"
    with contextlib.redirect_stdout(tee):  # type: ignore[type-var]
        try:
            yield
        except KeyboardInterrupt:
            status = "interrupted (Ctrl-C): partial"
            raise
        except SystemExit as exc:
            status = "finished" if exc.code in (0, None) else f"exit status {exc.code}"
            raise
        except BaseException as exc:
            status = f"failed: {type(exc).__name__}: partial"
            raise
        finally:
            # ``--help`` and argument errors measure nothing: no record for them
            text = tee.copy.getvalue()
            asked_help = any(a in ("-h", "--help") for a in sys.argv[1:])
            path = None if asked_help or not text.strip() else write(
                name, text, status, started, commit)
            if path is not None:
                print(f"\nresults written to {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}",
                      file=sys.stderr)


__all__ = ["machine", "recorded", "tables", "write"]
