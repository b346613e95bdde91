"""Atomic output files and output-path checks.

Every file the tools write goes through :func:`atomic_path` or :func:`atomic_write`: the data
go to a temporary file in the destination's folder, which is renamed over the destination only
once it is complete, so a crash or Ctrl-C never leaves a half-written or clobbered file. A write
that fails (a full disk, a read-only folder) removes the temporary file and raises
:class:`OutputError` naming the file and the operating system's cause.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from pathlib import Path
from typing import IO, Collection, Iterable, Iterator, Sequence

PathLike = str | os.PathLike
LOW_SPACE = 1 << 20  # bytes: a folder with less free space than this counts as full


class OutputError(OSError):
    """An output file could not be written; the message names the file and the cause the
    operating system gave (``"cannot write o.wav: no space left on device"``)."""


def _write_cause(exc: BaseException, folder: Path) -> str | None:
    """Why writing into ``folder`` failed, in the operating system's words, or None when
    ``exc`` was no failure to write. Libraries that wrap the system's error (libsndfile says
    "System error.") are read through the folder's free space."""
    if isinstance(exc, OSError) and exc.errno:
        return os.strerror(exc.errno).lower()
    with contextlib.suppress(OSError):
        st = os.statvfs(folder)
        if st.f_bavail * st.f_frsize < LOW_SPACE:
            return os.strerror(errno.ENOSPC).lower()
    if type(exc).__name__ == "LibsndfileError":
        return " ".join(str(exc).split()).rstrip(".").lower()
    return None


@contextlib.contextmanager
def atomic_path(path: PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` (same suffix); rename it over ``path`` on success.

    For libraries that write by file name (soundfile, Pillow, matplotlib, ``torch.save``). If the
    body raises (or is interrupted), the temporary file is removed and ``path`` is untouched.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{path.suffix}",
                                   dir=folder)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {_write_cause(exc, folder)}") from None
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp_path, _final_mode(path))
        os.replace(tmp_path, path)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        cause = None if isinstance(exc, (OutputError, KeyboardInterrupt, SystemExit,
                                         GeneratorExit)) else _write_cause(exc, folder)
        if cause is None:
            raise
        raise OutputError(f"cannot write {path}: {cause}") from None


def _final_mode(path: Path) -> int:
    """The permissions a plain ``open(path, "w")`` would give: the existing file's, or
    0o666 less the umask (``mkstemp`` makes its files 0o600)."""
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


@contextlib.contextmanager
def atomic_write(path: PathLike, mode: str = "wb", encoding: str | None = None) -> Iterator[IO]:
    """Open a temporary file beside ``path`` for writing; rename it over ``path`` on success.

    ``mode`` is ``"wb"`` or ``"w"`` (text, with ``encoding``, default UTF-8).
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write mode must be 'w' or 'wb', got {mode!r}")
    with atomic_path(path) as tmp:
        kwargs = {} if "b" in mode else {"encoding": encoding or "utf-8"}
        with open(tmp, mode, **kwargs) as fh:
            yield fh
            fh.flush()


def check_input_file(path: PathLike, what: str) -> Path:
    """``path`` as a ``Path``, checked to be a non-empty file: ``FileNotFoundError`` if it is
    missing, ``ValueError`` if it is a folder or empty (naming the path and ``what`` it should
    be, e.g. ``"an audio file"``)."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{p}: no such file")
    if p.is_dir():
        raise ValueError(f"{p}: is a folder, not {what}")
    if p.stat().st_size == 0:
        raise ValueError(f"{p}: empty file, not {what}")
    return p


def check_output_path(
    output: PathLike, inputs: Iterable[PathLike] = (), *, what: str = "output"
) -> Path:
    """Check that ``output`` can be written without harming any input.

    Raises ``ValueError`` (naming ``what`` and the path) if its folder does not exist, if it is a
    folder, or if it names one of ``inputs`` (same file by path or by inode).
    """
    out = Path(output)
    folder = out.parent if str(out.parent) else Path(".")
    if not folder.exists():
        raise ValueError(f"{what} folder does not exist: {folder}")
    if not folder.is_dir():
        raise ValueError(f"{what} folder is not a folder: {folder}")
    if out.is_dir():
        raise ValueError(f"{what} path is a folder, not a file: {out}")
    resolved = out.resolve()
    for inp in inputs:
        p = Path(inp)
        same = p.resolve() == resolved
        if not same and p.exists() and out.exists():
            with contextlib.suppress(OSError):
                same = os.path.samefile(p, out)
        if same:
            raise ValueError(f"{what} path {out} is one of the inputs; choose another name")
    return out


def named_after(inputs: Sequence[Path], folder: Path, suffixes: Collection[str],
                default: str) -> list[Path]:
    """One output path in ``folder`` per input, named after it: its stem, its suffix when in
    ``suffixes`` (else ``default``), ``_2``, ``_3`` ... where names collide."""
    paths: list[Path] = []
    used: set[str] = set()
    for p in inputs:
        suffix = p.suffix.lower() if p.suffix.lower() in suffixes else default
        name, n = f"{p.stem}{suffix}", 1
        while name.lower() in used:
            n += 1
            name = f"{p.stem}_{n}{suffix}"
        used.add(name.lower())
        paths.append(folder / name)
    return paths
