"""The seam for the optional mypyc build of the Socket.IO sans-I/O core.

Theory of operation
-------------------
The modules named in :data:`COMPILED_MODULES` are plain Python and stay the reference: they are
what every test checks, what a machine without a C compiler runs, and what the compiled build
is built from. ``setup.py`` compiles them with mypyc (they are ``mypy --strict`` already) when
mypy and a C compiler are present at install time, into the folder ``socketio_core/_compiled/``:
one small extension module per listed module, the shared library ``native__mypyc`` that holds
their code, and ``manifest.json`` with the SHA-256 of each source the build was made from (the
compiled modules and the package modules they import).

Nothing in ``_compiled/`` can shadow a pure module by accident: the import system only finds it
because ``socketio_core/__init__.py`` calls :func:`select`, which puts the folder in front of
the package's ``__path__`` when all of these hold, and otherwise leaves the pure modules alone
and says why in :data:`REASON`:

* neither ``SOCKETIO_NO_MYPYC`` nor ``WEBSOCKET_NO_SPEEDUPS`` (the C speedup's switch, which
  thus forces every accelerator off) is set to a non-empty value in the environment;
* the manifest lists exactly :data:`COMPILED_MODULES` and each hash matches the source beside
  it: after an edit to ``packet.py`` (or to ``exceptions.py``, which it imports) the stale build
  is ignored, never run (rebuild with ``python setup.py build_ext --inplace`` or ``make setup``);
* every extension module is there and the shared library loads.

Then ``import socketio_core.packet`` loads the compiled module under its own name, so every
importer sees the same classes. The choice is made once per process, at the first import of
``socketio_core``; ``python -c "import socketio_core.native as n; print(n.REASON)"``
prints it.

What differs in the compiled modules (mypyc's rules, kept in mind by the code they compile):

* an interpreted class cannot subclass one of their classes, and replacing one of their
  functions on the module (monkeypatching) does not reach callers compiled with it;
* compiled code has no recursion limit check. The payload walks recurse once per nesting level;
  payloads from a peer stay bounded (JSON by ``packet.MAX_NESTING``, msgpack by msgpack itself
  at 1,024 levels), but an application that emits data nested tens of thousands deep crashes
  the process instead of getting a ``RecursionError``;
* arguments of the wrong Python type raise ``TypeError`` (the annotations are enforced) where
  the pure code answers with its own checks, and a ``bool`` passed for an ``int`` becomes that
  ``int``.

The test suite runs against whatever this seam selected, and
``tests/socketio_core/test_sio_native.py`` runs the compiled modules' own tests again on the pure
modules in a subprocess, so both stay tested. ``benchmarks/socketio_layer.py`` measures the gain
(``docs/benchmarks.md``, "mypyc build of the sans-I/O core").
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import importlib.machinery
import json
import logging
import os
from collections.abc import Iterable, Mapping, MutableSequence
from pathlib import Path
from typing import Any, Final

__all__ = [
    "ACTIVE",
    "COMPILED_DIR",
    "COMPILED_MODULES",
    "DISABLE_VARIABLES",
    "MANIFEST",
    "REASON",
    "compiled_dir_problem",
    "import_closure",
    "manifest_of",
    "select",
    "source_hashes",
]

logger = logging.getLogger(__name__)

#: The modules compiled by the mypyc build, in ``socketio_core``: the per-message path of a
#: Socket.IO server (the packet codec, the server core, its events, the room index).
COMPILED_MODULES: Final = ("packet", "rooms", "server_events", "server_session")
#: The folder, inside the package, that holds the compiled build.
COMPILED_DIR: Final = "_compiled"
#: The mypyc group: its shared library is ``<group>__mypyc``, in :data:`COMPILED_DIR`.
GROUP: Final = "native"
#: The file of the build that records the SHA-256 of each compiled source.
MANIFEST: Final = "manifest.json"
#: Any of these set to a non-empty value forces the pure-Python modules.
DISABLE_VARIABLES: Final = ("SOCKETIO_NO_MYPYC", "WEBSOCKET_NO_SPEEDUPS")

#: Whether this process runs the compiled modules (set by :func:`select`).
ACTIVE = False
#: Why it does not, or ``"compiled"``.
REASON = "socketio_core was not imported through its package"


def import_closure(package_dir: Path) -> list[str]:
    """The compiled modules and the modules of the package they import, directly or not.

    A change to any of them can change what the compiled code assumes (mypyc checks the types
    of what crosses into compiled code), so the manifest records them all.
    """
    found: set[str] = set()
    todo = list(COMPILED_MODULES)
    while todo:
        name = todo.pop()
        path = package_dir / f"{name}.py"
        if name in found or not path.is_file():
            continue
        found.add(name)
        for node in ast.walk(ast.parse(path.read_bytes(), filename=str(path))):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                if node.module:
                    todo.append(node.module.partition(".")[0])
                else:
                    todo.extend(alias.name for alias in node.names)
    return sorted(found)


def source_hashes(package_dir: Path, names: Iterable[str]) -> dict[str, str]:
    """The SHA-256 of the source of each module ``names`` in ``package_dir``, by name."""
    return {
        name: hashlib.sha256((package_dir / f"{name}.py").read_bytes()).hexdigest()
        for name in names
    }


def manifest_of(package_dir: Path) -> dict[str, Any]:
    """What a build of the sources in ``package_dir`` records in :data:`MANIFEST`."""
    return {
        "compiled": list(COMPILED_MODULES),
        "sources": source_hashes(package_dir, import_closure(package_dir)),
    }


def compiled_dir_problem(package_dir: Path, environ: Mapping[str, str]) -> str | None:
    """Why the build in ``package_dir / COMPILED_DIR`` cannot be used, or None if it can.

    Args:
        package_dir: the folder of the ``socketio_core`` package.
        environ: the environment to read the switches from.

    Returns:
        A sentence for :data:`REASON`, or None.
    """
    for variable in DISABLE_VARIABLES:
        if environ.get(variable):
            return f"disabled by {variable}"
    folder = package_dir / COMPILED_DIR
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return "not built (no C compiler or no mypy at install time, or SOCKETIO_NO_MYPYC set)"
    except (OSError, ValueError) as exc:
        return f"unreadable {MANIFEST}: {exc}"
    if not isinstance(manifest, dict) or manifest.get("compiled") != list(COMPILED_MODULES):
        return f"{MANIFEST} does not list the modules {', '.join(COMPILED_MODULES)}"
    built = manifest.get("sources")
    if not isinstance(built, dict) or not set(COMPILED_MODULES) <= set(built):
        return f"{MANIFEST} has no source hashes"
    changed = []
    for name, digest in sorted(built.items()):
        try:
            current = source_hashes(package_dir, [name])[name]
        except OSError:
            current = None
        if current != digest:
            changed.append(name)
    if changed:
        return (
            f"stale: {', '.join(f'{name}.py' for name in changed)} changed since the build "
            "(rebuild: python setup.py build_ext --inplace)"
        )
    expected = {*COMPILED_MODULES, f"{GROUP}__mypyc"}
    suffixes = importlib.machinery.EXTENSION_SUFFIXES
    found = {
        path.name.partition(".")[0]
        for path in folder.iterdir()
        if path.name.endswith(tuple(suffixes))
    }
    if expected - found:
        missing = ", ".join(sorted(expected - found))
        return f"incomplete build: no extension module {missing} for this interpreter"
    if found - expected:  # it would shadow a pure module: refuse the whole build
        unexpected = ", ".join(sorted(found - expected))
        return f"unexpected extension modules in {COMPILED_DIR}: {unexpected}"
    return None


def select(
    package_path: MutableSequence[str],
    environ: Mapping[str, str] | None = None,
    package: str = "socketio_core",
) -> bool:
    """Put the compiled build in front of ``package_path`` if it can be used.

    Called once by ``socketio_core/__init__.py`` with the package's ``__path__``; sets
    :data:`ACTIVE` and :data:`REASON`.

    Args:
        package_path: the ``__path__`` of the package.
        environ: the environment (``os.environ`` by default).
        package: the package's name.

    Returns:
        Whether the compiled modules will be imported.
    """
    global ACTIVE, REASON
    package_dir = Path(package_path[0])
    problem = compiled_dir_problem(package_dir, os.environ if environ is None else environ)
    if problem is None:
        folder = str(package_dir / COMPILED_DIR)
        package_path.insert(0, folder)
        try:
            importlib.import_module(f"{package}.{COMPILED_DIR}.{GROUP}__mypyc")
        except ImportError as exc:
            package_path.remove(folder)
            problem = f"the compiled library does not load: {exc}"
    ACTIVE = problem is None
    REASON = problem or "compiled"
    logger.debug("= mypyc build of the sans-I/O core: %s", REASON)
    return ACTIVE
