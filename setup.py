"""Build the optional accelerators; everything else is in pyproject.toml.

Both are optional: without a C compiler (or without the Python headers, or without mypy) the
package installs without them, a message says so, and the pure-Python modules run.

* ``websocket._speedups``, a C extension. ``websocket.frames`` falls back to its pure-Python
  reference when it is missing; ``WEBSOCKET_NO_SPEEDUPS=1`` at run time ignores a built one.
* The Socket.IO sans-I/O core compiled with mypyc (the modules listed in
  ``socketio_core/native.py``, which explains the seam), into ``socketio_core/_compiled/``.
  All of them or none: a partial build is deleted. ``SOCKETIO_NO_MYPYC=1`` at build time skips
  it; at run time it (or ``WEBSOCKET_NO_SPEEDUPS=1``) ignores a built one.
"""

from __future__ import annotations

import json
import os
import runpy
import sys
from pathlib import Path
from typing import Any

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent
NATIVE: dict[str, Any] = runpy.run_path(str(ROOT / "socketio_core" / "native.py"))
PACKAGE = "socketio_core"
COMPILED = f"{PACKAGE}.{NATIVE['COMPILED_DIR']}"


def say(message: str) -> None:
    print(f"setup.py: {message}", file=sys.stderr, flush=True)


def mypyc_extensions() -> list[Extension]:
    """The mypyc build of socketio_core's core modules, or [] with a message when it cannot be."""
    if os.environ.get("SOCKETIO_NO_MYPYC"):
        say("SOCKETIO_NO_MYPYC is set: socketio_core stays pure Python")
        return []
    try:
        from mypyc.build import mypycify  # noqa: PLC0415 - optional at build time
    except ImportError:
        say("mypy (mypyc) is not installed: socketio_core stays pure Python")
        return []
    paths = [f"{PACKAGE}/{name}.py" for name in NATIVE["COMPILED_MODULES"]]
    try:
        extensions = mypycify(paths, opt_level="3", group_name=f"{COMPILED}.{NATIVE['GROUP']}")
    except (Exception, SystemExit) as exc:  # a mypy error ends in SystemExit
        say(f"mypyc could not compile socketio_core ({exc!r}): it stays pure Python")
        return []
    for extension in extensions:
        # The shims go beside the shared library, in _compiled/, where only the seam in
        # socketio_core/native.py looks: never beside the pure modules they are built from.
        if not extension.name.startswith(f"{COMPILED}."):
            extension.name = f"{COMPILED}.{extension.name.rpartition('.')[2]}"
        extension.optional = True
    return extensions


def remove_build(folder: Path) -> None:
    """Delete the files of a compiled build (the folder stays: setuptools may know it)."""
    if folder.is_dir():
        for path in folder.iterdir():
            if path.is_file():
                path.unlink()


class BuildExt(build_ext):
    """build_ext, plus the mypyc build made all or nothing and given its manifest."""

    mypyc: list[Extension]

    def finalize_options(self) -> None:
        if not hasattr(self, "mypyc"):
            self.mypyc = mypyc_extensions()
            self.distribution.ext_modules = [*(self.distribution.ext_modules or []), *self.mypyc]
        super().finalize_options()

    def run(self) -> None:
        build_py = self.get_finalized_command("build_py")
        folders = {Path(self.build_lib, *COMPILED.split("."))}
        if self.inplace:
            folders.add(Path(build_py.get_package_dir(COMPILED)))
        for folder in folders:  # no module of an earlier build may survive into this one
            remove_build(folder)
            if self.mypyc:
                folder.mkdir(parents=True, exist_ok=True)
        super().run()
        if not self.mypyc:
            return
        built = [Path(self.get_ext_fullpath(ext.name)) for ext in self.mypyc]
        if not all(path.is_file() for path in built):
            for folder in folders:
                remove_build(folder)
            say("the mypyc build of socketio_core failed (no C compiler?): it stays pure Python")
            return
        manifest = json.dumps(NATIVE["manifest_of"](ROOT / PACKAGE), indent=1) + "\n"
        for folder in folders:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / NATIVE["MANIFEST"]).write_text(manifest, encoding="utf-8")
        say(f"socketio_core compiled with mypyc: {', '.join(NATIVE['COMPILED_MODULES'])}")


setup(
    ext_modules=[
        Extension(
            "websocket._speedups",
            sources=["websocket/_speedups.c"],
            optional=True,
        )
    ],
    cmdclass={"build_ext": BuildExt},
)
