"""What the command-line tools share: turning exceptions into one-line errors and exit codes."""

from __future__ import annotations

import functools
import os
import sys
from typing import Callable, Sequence

from .errors import UserError
from .optim import NonFiniteLossError

Main = Callable[[Sequence[str] | None], int]

EXIT_USER_ERROR = 2
EXIT_FAILURE = 1
EXIT_INTERRUPTED = 130


def one_line(message: object) -> str:
    """Collapse a message to one line."""
    return " ".join(str(message).split())


def sys_exit(prog: str) -> Callable[[Main], Main]:
    """Decorate ``main(argv) -> int`` so that errors become one line on stderr and an exit code.

    * :class:`UserError` -> status 2 (bad input, as argparse's own errors).
    * :class:`NonFiniteLossError` -> status 1 with advice.
    * Out of memory -> status 1 with advice.
    * Ctrl-C -> status 130, "interrupted".
    * Anything else -> status 1, one line naming the exception; set ``STYLETOOLKIT_DEBUG=1`` to
      see the traceback.
    """

    def wrap(main: Main) -> Main:
        @functools.wraps(main)
        def wrapped(argv: Sequence[str] | None = None) -> int:
            try:
                return main(argv)
            except UserError as exc:
                print(f"{prog}: error: {one_line(exc)}", file=sys.stderr)
                return EXIT_USER_ERROR
            except NonFiniteLossError as exc:
                print(f"{prog}: error: {one_line(exc)}", file=sys.stderr)
                return EXIT_FAILURE
            except KeyboardInterrupt:
                print(f"{prog}: interrupted; no output written", file=sys.stderr)
                return EXIT_INTERRUPTED
            except MemoryError:
                print(f"{prog}: error: out of memory; try a smaller input, size or "
                      "filter count", file=sys.stderr)
                return EXIT_FAILURE
            except Exception as exc:  # noqa: BLE001 - the last line of defence of a CLI
                if os.environ.get("STYLETOOLKIT_DEBUG"):
                    raise
                if "out of memory" in str(exc).lower():
                    print(f"{prog}: error: out of memory ({one_line(exc)[:200]}); try a smaller "
                          "input, size or filter count", file=sys.stderr)
                else:
                    print(f"{prog}: error: {type(exc).__name__}: {one_line(exc)} "
                          "(set STYLETOOLKIT_DEBUG=1 for a traceback)", file=sys.stderr)
                return EXIT_FAILURE

        return wrapped

    return wrap
