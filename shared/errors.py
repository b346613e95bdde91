"""Errors that the command-line tools report as one line."""

from __future__ import annotations


class UserError(Exception):
    """A problem with the user's input or environment (bad file, bad option value, missing
    weights...). The CLIs print its message as one line on stderr and exit with status 2."""
