"""The command line, ``python -m socketio_core serve module:sio``, run as a real subprocess."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path

import pytest

from socketio_core.__main__ import build_parser, load_server
from socketio_core.aio import AsyncClient, AsyncServer

TIMEOUT = 10
BANNER = re.compile(rb"Socket\.IO server on http://127\.0\.0\.1:(\d+)/ \(path /socket\.io/\)")

APP = """
from socketio_core.aio import AsyncServer

sio = AsyncServer()
not_a_server = 42


@sio.on("shout")
async def shout(sid, text):
    return text.upper()
"""


@pytest.mark.asyncio
async def test_serve_module_attribute(tmp_path: Path) -> None:
    (tmp_path / "chatapp.py").write_text(APP)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "socketio_core",
        "serve",
        "chatapp:sio",
        "--port",
        "0",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), TIMEOUT)
        match = BANNER.search(line)
        assert match, line
        client = AsyncClient(reconnection=False)
        port = int(match.group(1))
        await client.connect(f"http://127.0.0.1:{port}", transports=["websocket"])
        try:
            assert await client.call("shout", "hello", timeout=TIMEOUT) == "HELLO"
        finally:
            await client.disconnect()
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            assert await asyncio.wait_for(proc.wait(), TIMEOUT) == 0
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise


def test_load_server_refuses_what_is_not_a_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "chatapp2.py").write_text(APP)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert isinstance(load_server("chatapp2:sio"), AsyncServer)
    with pytest.raises(SystemExit, match="not a socketio_core"):
        load_server("chatapp2:not_a_server")
    with pytest.raises(SystemExit, match="module:attribute"):
        load_server("chatapp2")


def test_parser_defaults() -> None:
    args = build_parser().parse_args(["serve", "m:sio"])
    assert (args.host, args.port, args.socketio_path) == ("127.0.0.1", 5000, "socket.io")
