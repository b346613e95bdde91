"""The command-line tools' own error: bad input that only a command line can have."""

from __future__ import annotations


class UserError(Exception):
    """A problem with the command line itself (an option that does not parse, a flag that
    contradicts another). Raised by the CLIs only: the library raises ``ValueError`` naming
    parameters, which :func:`shared.cli.sys_exit` reports the same way. The CLIs print its
    message as one line on stderr and exit with status 2."""
