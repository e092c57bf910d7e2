"""The seam of the optional mypyc build (socketio_core.native), and the pure modules' own run.

The whole suite runs against whatever the seam selected in this process: the compiled modules
when the install built them (``setup.py``), the pure ones otherwise. So that the pure modules
stay tested as the reference either way, :func:`test_pure_reference_run` runs the compiled
modules' own test files again in a subprocess with ``SOCKETIO_NO_MYPYC=1``. The other tests
check the seam's rules on fake build folders (no compiler needed) and in subprocesses.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from socketio_core import native
from socketio_core.exceptions import DecodeError
from socketio_core.packet import MAX_NESTING, Packet, decode_text
from socketio_core.parsers import MsgpackParser

ROOT = Path(__file__).resolve().parents[2]
PACKAGE_DIR = ROOT / "socketio_core"
#: The test files of the compiled modules, run again on the pure modules.
OWN_TESTS = [
    "tests/socketio_core/test_sio_packet.py",
    "tests/socketio_core/test_sio_rooms.py",
    "tests/socketio_core/test_sio_server_session.py",
    "tests/socketio_core/test_sio_decoder.py",
    "tests/socketio_core/test_sio_parsers.py",
]
SUFFIX = importlib.machinery.EXTENSION_SUFFIXES[0]
LIBRARY = f"{native.GROUP}__mypyc"
PURE_ENV = {"SOCKETIO_NO_MYPYC": "", "WEBSOCKET_NO_SPEEDUPS": ""}
#: What a fresh interpreter reports: the seam's reason and where socketio_core.packet came from.
REPORT = "import socketio_core.native as n, socketio_core.packet as p; print(n.REASON, p.__file__)"


def fake_build(tmp_path: Path) -> Path:
    """A package folder with the real sources and a complete-looking build of them."""
    package = tmp_path / "pkg"
    folder = package / native.COMPILED_DIR
    folder.mkdir(parents=True)
    for name in native.import_closure(PACKAGE_DIR):
        (package / f"{name}.py").write_bytes((PACKAGE_DIR / f"{name}.py").read_bytes())
    for name in [*native.COMPILED_MODULES, LIBRARY]:
        (folder / f"{name}{SUFFIX}").write_bytes(b"")
    manifest = json.dumps(native.manifest_of(package))
    (folder / native.MANIFEST).write_text(manifest, encoding="utf-8")
    return package


def run_python(code: str, **env: str) -> str:
    """Run ``code`` in a fresh interpreter on this tree; its stdout."""
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout


# --- the seam's rules, on fake build folders -----------------------------------------------


def test_a_complete_current_build_is_usable(tmp_path: Path) -> None:
    assert native.compiled_dir_problem(fake_build(tmp_path), PURE_ENV) is None


@pytest.mark.parametrize("variable", native.DISABLE_VARIABLES)
def test_either_switch_forces_the_pure_modules(tmp_path: Path, variable: str) -> None:
    problem = native.compiled_dir_problem(fake_build(tmp_path), {variable: "1"})
    assert problem == f"disabled by {variable}"


def test_no_build(tmp_path: Path) -> None:
    package = fake_build(tmp_path)
    (package / native.COMPILED_DIR / native.MANIFEST).unlink()
    assert (native.compiled_dir_problem(package, {}) or "").startswith("not built")


def test_unreadable_manifest(tmp_path: Path) -> None:
    package = fake_build(tmp_path)
    (package / native.COMPILED_DIR / native.MANIFEST).write_text("{", encoding="utf-8")
    assert (native.compiled_dir_problem(package, {}) or "").startswith("unreadable")


def test_manifest_of_other_modules(tmp_path: Path) -> None:
    package = fake_build(tmp_path)
    manifest = {**native.manifest_of(package), "compiled": ["packet"]}
    (package / native.COMPILED_DIR / native.MANIFEST).write_text(json.dumps(manifest))
    assert "does not list the modules" in (native.compiled_dir_problem(package, {}) or "")


def test_manifest_without_hashes(tmp_path: Path) -> None:
    package = fake_build(tmp_path)
    manifest = {**native.manifest_of(package), "sources": {"packet": "0" * 64}}
    (package / native.COMPILED_DIR / native.MANIFEST).write_text(json.dumps(manifest))
    assert native.compiled_dir_problem(package, {}) == f"{native.MANIFEST} has no source hashes"


def test_the_manifest_covers_what_the_compiled_modules_import() -> None:
    closure = native.import_closure(PACKAGE_DIR)
    assert set(native.COMPILED_MODULES) < set(closure)
    assert {"exceptions", "decoder", "parsers"} <= set(closure)
    assert "native" not in closure
    assert not any(name.startswith("aio") for name in closure)


@pytest.mark.parametrize("name", ["packet", "exceptions"])
def test_an_edited_source_makes_the_build_stale(tmp_path: Path, name: str) -> None:
    """A compiled module, or one it imports: both can change what the compiled code assumes."""
    package = fake_build(tmp_path)
    with open(package / f"{name}.py", "a", encoding="utf-8") as source:
        source.write("\n# edited after the build\n")
    problem = native.compiled_dir_problem(package, {})
    assert problem is not None
    assert problem.startswith(f"stale: {name}.py changed since the build")


def test_a_removed_source_makes_the_build_stale(tmp_path: Path) -> None:
    package = fake_build(tmp_path)
    (package / "exceptions.py").unlink()
    problem = native.compiled_dir_problem(package, {})
    assert problem is not None
    assert problem.startswith("stale: exceptions.py changed since the build")


@pytest.mark.parametrize("name", [*native.COMPILED_MODULES, LIBRARY])
def test_a_missing_extension_module_makes_the_build_incomplete(tmp_path: Path, name: str) -> None:
    package = fake_build(tmp_path)
    (package / native.COMPILED_DIR / f"{name}{SUFFIX}").unlink()
    problem = native.compiled_dir_problem(package, {})
    assert problem == f"incomplete build: no extension module {name} for this interpreter"


def test_an_unexpected_extension_module_is_refused(tmp_path: Path) -> None:
    """It would shadow the pure module of that name: the whole build is ignored."""
    package = fake_build(tmp_path)
    (package / native.COMPILED_DIR / f"decoder{SUFFIX}").write_bytes(b"")
    problem = native.compiled_dir_problem(package, {})
    assert problem == f"unexpected extension modules in {native.COMPILED_DIR}: decoder"


def test_select_leaves_the_path_alone_when_not_usable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(native, "ACTIVE", native.ACTIVE)
    monkeypatch.setattr(native, "REASON", native.REASON)
    package = fake_build(tmp_path)
    path = [str(package)]
    assert native.select(path, {"SOCKETIO_NO_MYPYC": "1"}) is False
    assert path == [str(package)]
    assert (native.ACTIVE, native.REASON) == (False, "disabled by SOCKETIO_NO_MYPYC")


def test_select_backs_out_when_the_library_does_not_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(native, "ACTIVE", native.ACTIVE)
    monkeypatch.setattr(native, "REASON", native.REASON)
    package = fake_build(tmp_path)
    path = [str(package)]
    assert native.select(path, {}, package="t17_no_such_package") is False
    assert path == [str(package)]
    assert native.ACTIVE is False
    assert native.REASON.startswith("the compiled library does not load")


# --- this process, and the switches in fresh interpreters ----------------------------------


def test_this_process_imports_what_the_seam_reports() -> None:
    for name in native.COMPILED_MODULES:
        module = importlib.import_module(f"socketio_core.{name}")
        assert module.__file__ is not None
        if native.ACTIVE:
            assert native.REASON == "compiled"
            assert Path(module.__file__).parent == PACKAGE_DIR / native.COMPILED_DIR
            assert not module.__file__.endswith(".py")
        else:
            assert module.__file__ == str(PACKAGE_DIR / f"{name}.py")


@pytest.mark.parametrize("variable", native.DISABLE_VARIABLES)
def test_switch_at_run_time(variable: str) -> None:
    out = run_python(REPORT, **{**PURE_ENV, variable: "1"})
    assert out.split() == [
        "disabled",
        "by",
        variable,
        str(PACKAGE_DIR / "packet.py"),
    ]


@pytest.mark.skipif(not native.ACTIVE, reason=f"mypyc build not in use: {native.REASON}")
def test_compiled_in_a_fresh_interpreter() -> None:
    reason, path = run_python(REPORT, **PURE_ENV).split()
    assert reason == "compiled"
    assert Path(path).parent == PACKAGE_DIR / native.COMPILED_DIR


@pytest.mark.skipif(not native.ACTIVE, reason=f"mypyc build not in use: {native.REASON}")
def test_compiled_payload_depth_limits() -> None:
    """Compiled walks have no recursion limit; a peer's nesting is still bounded.

    JSON payloads: by :data:`~socketio_core.packet.MAX_NESTING`, compiled or not. Msgpack
    payloads: the pure walks refuse some 900 levels (they reach the interpreter's recursion
    limit first: test_sio_parsers.py); compiled, the limit is msgpack's own, 1,024 levels.
    """
    too_deep = MAX_NESTING + 1
    with pytest.raises(DecodeError, match="nested"):
        decode_text('2["a",' + "[" * too_deep + "]" * too_deep + "]")
    head = b"\x83\xa4type\x02\xa3nsp\xa1/\xa4data\x92\xa1a"
    packet = MsgpackParser().decoder().feed(head + b"\x91" * 900 + b"\x90")
    assert isinstance(packet, Packet)
    with pytest.raises(DecodeError):
        MsgpackParser().decoder().feed(head + b"\x91" * 2000 + b"\x90")


@pytest.mark.skipif(not native.ACTIVE, reason=f"mypyc build not in use: {native.REASON}")
def test_compiled_packet_enforces_its_annotations() -> None:
    """Arguments of the wrong Python type, which the pure Packet checks as rules."""
    with pytest.raises(TypeError):
        Packet.ack(("a",), id=1)  # type: ignore[arg-type]
    # mypyc turns a bool passed for an int into that int at the call.
    assert type(Packet.ack([], id=True).id) is int


@pytest.mark.skipif(
    not native.ACTIVE,
    reason=f"the whole suite runs the pure modules already (mypyc build: {native.REASON})",
)
def test_pure_reference_run() -> None:
    """The compiled modules' own tests, again on the pure modules: both paths stay tested."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *OWN_TESTS],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "SOCKETIO_NO_MYPYC": "1"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert " passed" in result.stdout
    assert " failed" not in result.stdout
