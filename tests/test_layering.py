"""The layering rules of CONVENTIONS.md, checked on the source tree.

* imports point downward only: socketio_core -> engineio_core -> websocket;
* sans-I/O core modules never import asyncio (only ``aio/``, ``__main__`` and ASGI modules may);
* no import cycle inside a package, type-only imports (``if TYPE_CHECKING:``) included:
  a driver gets a narrow interface or a callable, not its owner;
* no source file grows past 800 lines. About 600 is the guideline; past it, split by
  responsibility (codec, state, I/O) at a real seam, never by squeezing lines or carving out
  leftovers.
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


MAX_LINES = 800


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_files_stay_small(path: Path) -> None:
    lines = path.read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_LINES, f"{path} has {lines} lines: split it by responsibility"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _internal_imports(path: Path) -> set[str]:
    """Modules of the project this module imports, type-only imports included."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    name = _module_name(path)
    package = name if path.stem == "__init__" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def _import_graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in _sources()}
    return {
        name: {m for m in _internal_imports(path) if m in modules and m != name}
        for name, path in modules.items()
    }


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every cycle found by a depth-first search (one per back edge)."""
    found: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                found.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return found


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_cycle(package: str) -> None:
    """No package has an import cycle (type-only imports included): pass a narrow interface
    (a ``typing.Protocol`` or a callable) instead of the object above."""
    graph = _import_graph()
    cycles = [c for c in _cycles(graph) if c[0].split(".")[0] == package]
    assert cycles == [], cycles


def test_cycle_finder_sees_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]


def test_checker_sees_a_violation(tmp_path: Path) -> None:
    """The checker itself can fail: a websocket module importing engineio_core is caught."""
    bad = tmp_path / "probe.py"
    bad.write_text(
        "import engineio_core\nfrom asyncio import sleep\nfrom . import x\n", encoding="utf-8"
    )
    roots = _imported_roots(bad, package="websocket")
    assert roots == {"engineio_core", "asyncio", "websocket"}
    assert not roots <= ALLOWED["websocket"]
