"""The house rules that keep the layers readable (docs/architecture.md); import-linter
checks the direction of imports, these check what it cannot."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted([*(ROOT / "engine").rglob("*.py"), *(ROOT / "desktop").rglob("*.py")])
MAX_LINES = 500


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_module_is_small_and_says_what_it_owns(path: Path) -> None:
    text = path.read_text()
    assert len(text.splitlines()) <= MAX_LINES, "split it: one clear job per module"
    assert ast.get_docstring(ast.parse(text)), "open the module with a docstring"


def _engine_imports(tree: ast.Module) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.append(node.module)
        elif isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
    return [m for m in found if m == "engine" or m.startswith("engine.")]


@pytest.mark.parametrize(
    "path", [p for p in SOURCES if p.parts[len(ROOT.parts)] == "engine"],
    ids=lambda p: p.relative_to(ROOT).as_posix())
def test_engine_modules_never_import_the_public_face_or_their_package(path: Path) -> None:
    """`engine/__init__` re-exports everything, so an engine module importing it (or a
    sub-package __init__ re-exporting its children) would make an import circle."""
    tree = ast.parse(path.read_text())
    imports = _engine_imports(tree)
    if path == ROOT / "engine" / "__init__.py":
        return
    assert "engine" not in imports
    if path.name == "__init__.py":
        assert imports == [], "sub-package __init__ files hold a docstring only"
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    assert package not in imports, f"import siblings directly, not {package}"


def _runs_sql(tree: ast.Module) -> bool:
    return any(isinstance(node, ast.Attribute)
               and node.attr in {"execute", "executemany", "executescript"}
               for node in ast.walk(tree))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_sql_lives_in_the_store(path: Path) -> None:
    """One room owns the schema: a column renamed in a migration is found in store/."""
    if path.parent == ROOT / "engine" / "store":
        return
    assert not _runs_sql(ast.parse(path.read_text())), "move the statement into engine/store"
