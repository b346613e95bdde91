"""What the command-line tools share: turning exceptions into one-line errors and exit codes.

The library knows no command line: its errors name parameters (``ValueError("lr must be
positive, got -1")``). Each tool gives :func:`sys_exit` one mapping from those parameter names to
its flags (``{"lr": "--lr"}``), and the user reads ``error: --lr must be positive, got -1``.
"""

from __future__ import annotations

import argparse
import functools
import os
import re
import sys
from typing import Callable, Mapping, NoReturn, Sequence

from .errors import UserError
from .io import OutputError
from .optim import NonFiniteLossError

Main = Callable[[Sequence[str] | None], int]

QUIET_HELP = "no progress bar or summary (default: off)"  # every command's --quiet
EXIT_USER_ERROR = 2
EXIT_FAILURE = 1
EXIT_INTERRUPTED = 130


class ArgumentParser(argparse.ArgumentParser):
    """An ``argparse.ArgumentParser`` whose errors are one-line :class:`UserError` (exit status
    2 through :func:`sys_exit`), like every other bad input. Its subparsers are of this class
    too."""

    def error(self, message: str) -> NoReturn:
        raise UserError(f"{message} (see {self.prog} --help)")


def one_line(message: object) -> str:
    """Collapse a message to one line."""
    return " ".join(str(message).split())


def flag_names(message: str, flags: Mapping[str, str]) -> str:
    """Rewrite the library's parameter names in ``message`` as the command line's flags.

    Only whole names are replaced (not parts of words, paths, quoted values or flags), e.g. with
    ``{"lr": "--lr", "image_size": "--image-size"}``: ``"lr must be positive, got 0"`` ->
    ``"--lr must be positive, got 0"``.
    """
    if not flags:
        return message
    names = "|".join(re.escape(n) for n in sorted(flags, key=len, reverse=True))
    pattern = re.compile(rf"(?<![\w./'\"-])({names})(?![\w/'\"-]|\.\w)")
    return pattern.sub(lambda m: flags[m.group(1)], message)


CPU_OUT_OF_MEMORY = ("can't allocate memory", "defaultcpuallocator", "out of memory")


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` is an allocator's failure: Python's ``MemoryError``, CUDA's
    ``OutOfMemoryError``, or the CPU allocator's ``RuntimeError``."""
    text = str(exc).lower()
    return isinstance(exc, MemoryError) or any(k in text for k in CPU_OUT_OF_MEMORY)


def sys_exit(prog: str, flags: Mapping[str, str] | None = None,
             memory_advice: str = "try a smaller input, size or filter count"
             ) -> Callable[[Main], Main]:
    """Decorate ``main(argv) -> int`` so that errors become one line on stderr and an exit code.

    * :class:`UserError` (the CLI's own errors) -> status 2, as argparse's own errors.
    * ``ValueError`` and ``FileNotFoundError`` (the library's bad-input errors, the memory
      estimates' refusals among them) -> status 2, with the parameter names in ``flags``
      rewritten as the tool's flags (:func:`flag_names`).
    * :class:`shared.io.OutputError` (an output that could not be written: a full disk, a
      read-only folder) -> status 2, naming the file and the cause.
    * :class:`NonFiniteLossError` -> status 1 with advice (parameter names rewritten too).
    * Out of memory that slipped past the estimate -> status 1, saying so, with
      ``memory_advice`` (the tool's flags that lower it).
    * Ctrl-C -> status 130, "interrupted".
    * Anything else -> status 1, one line naming the exception; set ``STYLETOOLKIT_DEBUG=1`` to
      see the traceback.
    """

    def wrap(main: Main) -> Main:
        @functools.wraps(main)
        def wrapped(argv: Sequence[str] | None = None) -> int:
            try:
                return main(argv)
            except (UserError, OutputError) as exc:
                print(f"{prog}: error: {one_line(exc)}", file=sys.stderr)
                return EXIT_USER_ERROR
            except (ValueError, FileNotFoundError) as exc:
                if os.environ.get("STYLETOOLKIT_DEBUG"):
                    raise
                print(f"{prog}: error: {flag_names(one_line(exc), flags or {})}", file=sys.stderr)
                return EXIT_USER_ERROR
            except NonFiniteLossError as exc:
                print(f"{prog}: error: {flag_names(one_line(exc), flags or {})}", file=sys.stderr)
                return EXIT_FAILURE
            except KeyboardInterrupt:
                print(f"{prog}: interrupted; no output written", file=sys.stderr)
                return EXIT_INTERRUPTED
            except MemoryError:
                print(f"{prog}: error: out of memory; {memory_advice}", file=sys.stderr)
                return EXIT_FAILURE
            except Exception as exc:  # noqa: BLE001 - the last line of defence of a CLI
                if os.environ.get("STYLETOOLKIT_DEBUG"):
                    raise
                if is_out_of_memory(exc):
                    print(f"{prog}: error: out of memory ({one_line(exc)[:160]}); "
                          f"{memory_advice}", file=sys.stderr)
                else:
                    print(f"{prog}: error: {type(exc).__name__}: {one_line(exc)} "
                          "(set STYLETOOLKIT_DEBUG=1 for a traceback)", file=sys.stderr)
                return EXIT_FAILURE

        return wrapped

    return wrap
