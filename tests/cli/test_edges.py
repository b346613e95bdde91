"""The product's edges: between the library and the command line (the library names parameters
and raises ``ValueError``/``FileNotFoundError``; only the CLI modules know flags and
``UserError``), and between modules (no import cycle, no private name imported from another
module, the audio package's layers imported one way, no function over 60 lines)."""

from __future__ import annotations

import ast
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


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


PRODUCT = {_module_name(p): p for package in ("shared", "audiostyle", "imagestyle")
           for p in (ROOT / package).rglob("*.py")}


def _imports(name: str) -> list[tuple[str, str]]:
    """``(module, imported name)`` of every import in product module ``name`` that reaches
    another product module (module-level, in functions or for type checking alike)."""
    path = PRODUCT[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = package.split(".")[:len(package.split(".")) - max(node.level - 1, 0)]
            target = (".".join(base + ([node.module] if node.module else [])) if node.level
                      else node.module or "")
            for alias in node.names:
                full = f"{target}.{alias.name}"
                module = full if full in PRODUCT else target
                if module in PRODUCT and module != name:
                    out.append((module, alias.name))
        elif isinstance(node, ast.Import):
            out += [(a.name, "") for a in node.names if a.name in PRODUCT and a.name != name]
    return out


def test_the_product_has_no_import_cycle() -> None:
    edges = {name: {m for m, _ in _imports(name)} for name in PRODUCT}
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for nxt in sorted(edges[name]):
            assert state.get(nxt) != 1, "import cycle: " + " -> ".join(path + [name, nxt])
            if nxt not in state:
                visit(nxt, path + [name])
        state[name] = 2

    for name in sorted(PRODUCT):
        if name not in state:
            visit(name, [])


def test_no_private_name_is_imported_from_another_module() -> None:
    private = [(name, module, n) for name in PRODUCT for module, n in _imports(name)
               if n.startswith("_") and not n.startswith("__")]
    assert not private, private


# The audio package's layers, lowest first: a module imports only from layers before its own.
AUDIO_LAYERS = [("dsp",), ("audio",), ("stream",), ("spectral", "network", "pghi", "rhythm"),
                ("bands",), ("config",), ("presets",), ("targets",), ("objective",), ("memory", "parallel"),
                ("stages",), ("windows",), ("pipeline",), ("api",), ("quality", "plots"),
                ("feedforward.networks",), ("feedforward.config", "feedforward.data",
                                            "feedforward.render"),
                ("feedforward.modelfile",), ("feedforward.trainer", "feedforward.stylize",
                                             "feedforward.export"),
                ("feedforward.train",), ("feedforward.cli",), ("feedforward",),
                ("cli",), ("__main__",)]


def test_the_audio_package_imports_one_way() -> None:
    layer = {f"audiostyle.{m}": i for i, names in enumerate(AUDIO_LAYERS) for m in names}
    assert set(layer) == {n for n in PRODUCT if n.startswith("audiostyle.")}, \
        "a module of audiostyle is missing from AUDIO_LAYERS"
    for name, i in layer.items():
        for module, _ in _imports(name):
            if module.startswith("audiostyle"):
                assert module != "audiostyle" and layer[module] < i, \
                    f"{name} imports {module}, which is not below it"


def test_no_function_is_longer_than_60_lines() -> None:
    long = [(name, node.name, node.end_lineno - node.lineno + 1)
            for name, path in PRODUCT.items()
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.end_lineno - node.lineno + 1 > 60]
    assert not long, long
