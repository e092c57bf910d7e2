"""The seed tutorial's snippets with ``import socketio_core as socketio``, as plain scripts:
its WSGI set-ups under ``gunicorn --threads`` and Flask's own server (WebSocket included),
and its client. The manager snippets run against the real brokers, in
``tests/socketio_core/brokers/test_sio_dropin_seed_managers.py``.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from example_kit import EXAMPLES, node_client, program, run_client_script, seed_scenario

import socketio_core as socketio

SEED = EXAMPLES / "seed"
GUNICORN = ["{gunicorn}", "--threads", "100", "-b", "127.0.0.1:{port}", "--no-control-socket"]
SETUPS = {
    "方式1 WSGIApp(sio) under gunicorn --threads": [*GUNICORN, "seed_wsgi:app"],
    "方式2 WSGIApp(sio, flask) under gunicorn --threads": [*GUNICORN, "seed_flask:app"],
    "方式2 WSGIApp(sio, flask) under Flask's server": ["{py}", "seed_flask.py"],
}
TRANSPORTS = {"polling": ["polling"], "websocket": ["websocket"], "upgrade": None}


@pytest.mark.node
@pytest.mark.asyncio
@pytest.mark.parametrize("setup", list(SETUPS))
async def test_seed_server_setups(setup: str, tmp_path: Path) -> None:
    with program(SETUPS[setup], SEED, tmp_path) as server:
        for transports in TRANSPORTS.values():
            await seed_scenario(server.url, server.url, transports)
        for transport in ("polling", "websocket", "polling,websocket"):
            steps: list[Any] = [["emit", "chat"], ["expect", "rooms"]]
            steps += [["emit", "my custom event", 1], ["expect", "message"]]
            lines = await node_client(server.url, transport, steps)
            names = [line["name"] for line in lines if line["event"] == "recv"]
            assert names[:2] == ["rooms", "my event"] and "message" in names
        output = server.output()
        if "flask" in setup:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            reply = await asyncio.wait_for(reader.read(), 5)
            writer.close()
            assert reply.startswith(b"HTTP/1.1 200") and reply.endswith(b"the Flask app")
    assert output.count("connect ") >= 6 and output.count("disconnect ") >= 6


@pytest.mark.asyncio
async def test_seed_client(tmp_path: Path) -> None:
    sio = socketio.AsyncServer()

    @sio.event
    async def connect(sid: str, environ: dict[str, Any]) -> None:
        await sio.emit("event", {"n": 1}, to=sid)

    async with sio.listen("127.0.0.1", 0) as front:
        lines = await run_client_script(
            str(SEED / "seed_client.py"), f"http://127.0.0.1:{front.port}", "event"
        )
    assert lines == ["connect", "event {'n': 1}"]
