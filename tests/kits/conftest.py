"""Servers for the kits' tests, each a subprocess that prints ``{"port": N}`` once listening.

* Node socket.io 4.8 and engine.io 6.6, configured as the official suites expect
  (tests/node/sio_check_server.js, tests/node/eio_server.js);
* ours and python-socketio (uvicorn) with the same echo contract (tests/kits/check_server.py);
* WebSocket echo servers: ours (``python -m websocket serve``) and the ``websockets`` library's.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
NODE_DIR = ROOT / "tests" / "node"
START_TIMEOUT = 20.0


def spawn(cmd: list[str], *, cwd: Path = ROOT) -> tuple[subprocess.Popen[bytes], int]:
    """Start a server; return it and the port of its ``{"port": N}`` line."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NODE_PATH": str(NODE_DIR / "node_modules")}
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, env=env)
    assert proc.stdout is not None
    deadline = time.monotonic() + START_TIMEOUT
    line = b""
    while not line.endswith(b"\n"):
        left = deadline - time.monotonic()
        ready, _, _ = select.select([proc.stdout], [], [], max(0.0, left))
        if not ready:
            proc.kill()
            raise RuntimeError(f"{cmd} did not start in {START_TIMEOUT} s")
        chunk = os.read(proc.stdout.fileno(), 1)
        if not chunk:
            raise RuntimeError(f"{cmd} exited: {proc.wait()}")
        line += chunk
    text = line.decode()
    if text.startswith("{"):
        return proc, int(json.loads(text)["port"])
    return proc, int(text.rsplit(":", 1)[1].strip(" /\n"))


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Terminate a server started by :func:`spawn`."""
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


def _server(cmd: list[str], cwd: Path = ROOT) -> Iterator[str]:
    proc, port = spawn(cmd, cwd=cwd)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(proc)


def _node_or_skip(node_available: bool) -> None:
    if not node_available:
        message = "Node interop tests need node and tests/node/node_modules"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


NODE_OK = bool(
    __import__("shutil").which("node") and (NODE_DIR / "node_modules" / "socket.io").is_dir()
)


@pytest.fixture(scope="module")
def node_sio_url() -> Iterator[str]:
    """Node socket.io 4.8 with the official suite's settings and echo contract."""
    _node_or_skip(NODE_OK)
    yield from _server(["node", "sio_check_server.js"], cwd=NODE_DIR)


@pytest.fixture(scope="module")
def node_eio_url() -> Iterator[str]:
    """Node engine.io 6.6, echoing every message, with the official suite's settings."""
    _node_or_skip(NODE_OK)
    options = '{"pingInterval":300,"pingTimeout":200,"maxHttpBufferSize":1000000}'
    yield from _server(["node", "eio_server.js", options], cwd=NODE_DIR)


@pytest.fixture(scope="module")
def ours_sio_url() -> Iterator[str]:
    """Our AsyncServer on the standalone front door, with the echo contract."""
    yield from _server([sys.executable, str(HERE / "check_server.py"), "ours"])


@pytest.fixture(scope="module")
def pysio_url() -> Iterator[str]:
    """python-socketio under uvicorn, with the echo contract."""
    yield from _server([sys.executable, str(HERE / "check_server.py"), "python-socketio"])


@pytest.fixture(scope="module")
def ours_ws_url() -> Iterator[str]:
    """``python -m websocket serve``: our echo server (permessage-deflate on)."""
    for url in _server([sys.executable, "-m", "websocket", "serve", "--port", "0"]):
        yield url.replace("http://", "ws://") + "/"


@pytest.fixture(scope="module")
def websockets_ws_url() -> Iterator[str]:
    """The ``websockets`` library's asyncio echo server."""
    for url in _server([sys.executable, str(HERE / "websockets_echo.py")]):
        yield url.replace("http://", "ws://") + "/"


@pytest.fixture(scope="module")
def bench_servers() -> Iterator[dict[str, tuple[str, int]]]:
    """The benchmarks' Socket.IO servers (bench contract, no heartbeat): ours, and Node's."""
    servers = [
        ("ours", [sys.executable, str(ROOT / "benchmarks/sio_servers/ours_standalone.py"), "300"])
    ]
    if NODE_OK:
        servers.append(("node", ["node", str(ROOT / "benchmarks/sio_servers/node_socketio.js"),
                                 "300"]))  # fmt: skip
    started = {name: spawn(cmd) for name, cmd in servers}
    try:
        yield {
            name: (f"http://127.0.0.1:{port}", proc.pid) for name, (proc, port) in started.items()
        }
    finally:
        for proc, _ in started.values():
            stop(proc)
