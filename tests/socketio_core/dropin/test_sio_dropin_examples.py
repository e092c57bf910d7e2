"""python-socketio's example programs, in their shapes, with ``import socketio_core as
socketio``, run with their own commands and driven over loopback by Node's socket.io-client
and by our clients, over polling, websocket and upgrade.

The programs are in ``examples/`` (each says which python-socketio example it copies); the
programs read their port from ``$PORT`` and the clients the server's URL from ``$SERVER_URL``.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from example_kit import EXAMPLES, TIMEOUT, node_client, program, run_client_script

import socketio_core as socketio

DJANGO = EXAMPLES / "django_socketio"
GUNICORN = ["{gunicorn}", "--threads", "100", "-b", "127.0.0.1:{port}", "--no-control-socket"]

#: kind -> (command, directory, scenario, transports the server offers)
SERVERS: dict[str, tuple[list[str], Path, str, tuple[str, ...]]] = {
    "asgi (python fiddle.py)": (["{py}", "asgi_fiddle.py"], EXAMPLES, "fiddle", ()),
    "asgi (uvicorn)": (
        ["{py}", "-m", "uvicorn", "--port", "{port}", "asgi_fiddle:app"],
        EXAMPLES,
        "fiddle",
        (),
    ),
    "asgi fastapi (uvicorn)": (
        ["{py}", "-m", "uvicorn", "--port", "{port}", "fastapi_fiddle:combined_asgi_app"],
        EXAMPLES,
        "fiddle",
        (),
    ),
    "aiohttp": (["{py}", "aiohttp_fiddle.py"], EXAMPLES, "fiddle", ()),
    "sanic": (["{py}", "sanic_fiddle.py"], EXAMPLES, "fiddle", ()),
    "tornado": (["{py}", "tornado_fiddle.py", "--port={port}"], EXAMPLES, "fiddle", ()),
    "wsgi flask (app.run threaded)": (["{py}", "wsgi_app.py"], EXAMPLES, "app", ()),
    "wsgi flask (gunicorn --threads)": ([*GUNICORN, "wsgi_app:app"], EXAMPLES, "app", ()),
    "wsgi django (runserver)": (
        ["{py}", "manage.py", "runserver", "--noreload", "127.0.0.1:{port}"],
        DJANGO,
        "app",
        ("polling",),  # Django's server exposes no socket: no WebSocket (as with python-socketio)
    ),
    "wsgi django (gunicorn --threads)": (
        [*GUNICORN, "django_socketio.wsgi:application"],
        DJANGO,
        "app",
        (),
    ),
}

TRANSPORTS = {"polling": ["polling"], "websocket": ["websocket"], "upgrade": None}
NODE_TRANSPORTS = {"polling": "polling", "websocket": "websocket", "upgrade": "polling,websocket"}

HELLO = [1, 2, {"hello": "you"}]
APP_STEPS: list[Any] = [
    ["expect", "reply"],
    ["emit", "echo", {"text": "hi"}],
    ["expect", "reply"],
    ["emit", "join", {"room": "r1"}],
    ["expect", "reply"],
    ["emit", "room_say", {"room": "r1", "text": "to the room"}],
    ["expect", "reply"],
    ["emit", "close", {"room": "r1"}],
    ["expect", "reply"],
]
APP_RESPONSES = [
    {"text": "welcome"},
    {"text": "hi"},
    {"text": "joined r1"},
    {"text": "to the room"},
    {"text": "closing r1"},
]


def received(lines: list[dict[str, Any]]) -> list[Any]:
    return [[line["name"], *line["args"]] for line in lines if line["event"] == "recv"]


async def check_node(url: str, scenario: str, transport: str, offered: tuple[str, ...]) -> None:
    steps = [["expect", "hello"]] if scenario == "fiddle" else list(APP_STEPS)
    upgrade = transport == "upgrade" and not offered
    if upgrade:
        steps.append(["upgrade"])
    lines = await node_client(url, NODE_TRANSPORTS[transport], steps)
    if scenario == "fiddle":
        assert received(lines)[0] == ["hello", *HELLO]
    else:
        assert [args for name, *args in received(lines)][:5] == [[r] for r in APP_RESPONSES]
    expected = "polling" if transport == "polling" or offered else "websocket"
    assert lines[-1] == {"event": "done", "transport": expected}


async def check_ours(url: str, scenario: str, transport: str) -> None:
    inbox: asyncio.Queue[Any] = asyncio.Queue()
    sio = socketio.AsyncClient(reconnection=False)
    sio.on("*", lambda event, *args: inbox.put_nowait([event, *args]))
    await sio.connect(url, auth={"token": "t"}, transports=TRANSPORTS[transport])
    try:
        if scenario == "fiddle":
            assert await asyncio.wait_for(inbox.get(), TIMEOUT) == ["hello", *HELLO]
            return
        got = [await asyncio.wait_for(inbox.get(), TIMEOUT)]
        for kind, name, *args in APP_STEPS[1:]:
            if kind == "emit":
                await sio.emit(name, args[0])
            else:
                got.append(await asyncio.wait_for(inbox.get(), TIMEOUT))
        assert got == [["reply", r] for r in APP_RESPONSES]
    finally:
        await sio.disconnect()


@pytest.mark.node
@pytest.mark.asyncio
@pytest.mark.parametrize("kind", list(SERVERS))
async def test_server_example(kind: str, tmp_path: Path) -> None:
    command, cwd, scenario, offered = SERVERS[kind]
    with program(command, cwd, tmp_path) as server:
        for transport in TRANSPORTS:
            if offered and transport not in offered and transport != "upgrade":
                continue
            await check_node(server.url, scenario, transport, offered)
            await check_ours(server.url, scenario, transport)
        if scenario == "fiddle":
            assert "connected auth={'token': 'my-token'}" in server.output()


@pytest.mark.asyncio
async def test_django_runserver_refuses_websocket_with_one_log_line(tmp_path: Path) -> None:
    command, cwd, _, _ = SERVERS["wsgi django (runserver)"]
    with program(command, cwd, tmp_path) as server:
        sio = socketio.AsyncClient(reconnection=False)
        with pytest.raises(socketio.exceptions.ConnectionError):
            await sio.connect(server.url, transports=["websocket"], wait_timeout=TIMEOUT)


CLIENTS = {
    "client/async": ("client_async_fiddle.py", "1 2 {'hello': 'you'}"),
    "client/sync": ("client_sync_fiddle.py", "1 2 {'hello': 'you'}"),
    "simple-client/async": ("simple_async_fiddle.py", "['hello', 1, 2, {'hello': 'you'}]"),
    "simple-client/sync": ("simple_sync_fiddle.py", "['hello', 1, 2, {'hello': 'you'}]"),
}


@pytest.mark.asyncio
async def test_client_examples(tmp_path: Path) -> None:
    with program(["{py}", "asgi_fiddle.py"], EXAMPLES, tmp_path) as server:
        outputs = {
            kind: await run_client_script(script, server.url, until)
            for kind, (script, until) in CLIENTS.items()
        }
    assert outputs["client/async"][:2] == ["connected to server", "1 2 {'hello': 'you'}"]
    assert outputs["client/sync"][:2] == ["connected to server", "1 2 {'hello': 'you'}"]
    assert outputs["simple-client/sync"][-1] == "['hello', 1, 2, {'hello': 'you'}]"


@pytest.mark.asyncio
async def test_latency_client_example(tmp_path: Path) -> None:
    with program(["{py}", "asgi_latency.py"], EXAMPLES, tmp_path) as server:
        lines = await run_client_script("client_sync_latency.py", server.url, "latency is")
    assert "connected to server" in lines and lines[-1].startswith("latency is ")
