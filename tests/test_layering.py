"""The layering rules of CONVENTIONS.md, checked on the source tree.

* imports point downward only: socketio_core -> engineio_core -> websocket;
* sans-I/O core modules never import asyncio (only ``aio/``, ``__main__`` and ASGI modules may);
* no source file grows past 600 lines.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("websocket", "engineio_core", "socketio_core")
# What each package may import from the project (itself included).
ALLOWED = {
    "websocket": {"websocket"},
    "engineio_core": {"engineio_core", "websocket"},
    "socketio_core": {"socketio_core", "engineio_core", "websocket"},
}
IO_MODULES = {"aio", "__main__"}


def _sources() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def _imported_roots(path: Path, package: str | None = None) -> set[str]:
    """Top-level names imported by a module; relative imports resolve to its own package."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    roots: set[str] = set()
    package = package or path.relative_to(ROOT).parts[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                roots.add(package)
            elif node.module:
                roots.add(node.module.split(".")[0])
    return roots


def _is_io_module(path: Path) -> bool:
    parts = path.relative_to(ROOT).parts
    return bool(IO_MODULES & set(parts)) or path.stem == "__main__" or "asgi" in path.stem


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_point_downward(path: Path) -> None:
    package = path.relative_to(ROOT).parts[0]
    project_imports = _imported_roots(path) & set(PACKAGES)
    assert project_imports <= ALLOWED[package], f"{path} imports {project_imports}"


@pytest.mark.parametrize(
    "path", [p for p in _sources() if not _is_io_module(p)], ids=lambda p: str(p.relative_to(ROOT))
)
def test_core_modules_are_sans_io(path: Path) -> None:
    forbidden = {"asyncio", "socket", "selectors", "trio", "anyio"}
    assert not (_imported_roots(path) & forbidden), f"{path} does I/O in a core module"


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_files_stay_small(path: Path) -> None:
    lines = path.read_text(encoding="utf-8").count("\n")
    assert lines <= 600, f"{path} has {lines} lines"


def test_checker_sees_a_violation(tmp_path: Path) -> None:
    """The checker itself can fail: a websocket module importing engineio_core is caught."""
    bad = tmp_path / "probe.py"
    bad.write_text(
        "import engineio_core\nfrom asyncio import sleep\nfrom . import x\n", encoding="utf-8"
    )
    roots = _imported_roots(bad, package="websocket")
    assert roots == {"engineio_core", "asyncio", "websocket"}
    assert not roots <= ALLOWED["websocket"]
