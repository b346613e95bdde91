"""One edge between the library and the command line: the library names parameters and raises
``ValueError``/``FileNotFoundError``; only the CLI modules know flags and ``UserError``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
CLI_MODULES = {"cli.py", "options.py", "__main__.py"}  # the command line's own modules
LIBRARY = sorted(p for package in ("shared", "audiostyle", "imagestyle")
                 for p in (ROOT / package).rglob("*.py") if p.name not in CLI_MODULES)


def test_there_is_a_library_to_check() -> None:
    assert len(LIBRARY) > 20 and ROOT / "shared" / "errors.py" in LIBRARY


@pytest.mark.parametrize("path", LIBRARY, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_library_speaks_no_command_line(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    flags = re.findall(r"""(?<![\w-])--[a-z][\w-]*|[\s'"(`]-o\s""", text)
    assert not flags, f"{path.name} mentions command-line flags: {flags}"
    assert "raise UserError" not in text, f"{path.name} raises the CLI's UserError"
