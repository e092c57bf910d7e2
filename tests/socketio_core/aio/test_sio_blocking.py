"""Tests for socketio_core.aio.blocking (Client): the blocking client from plain threads and
from a script with no event loop of its own, against our server on 127.0.0.1.

The server runs on the test's event loop; the blocking client runs in a worker thread
(``asyncio.to_thread``) or in a ``python -c`` subprocess, with its own loop thread. Waits are
bounded ``threading.Event`` waits, never sleeps.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from socketio_core.aio import AsyncServer, Client, ClientNamespace
from socketio_core.aio.blocking import HANDLER_THREAD, LOOP_THREAD
from socketio_core.exceptions import ConnectFailed, LocalProtocolError

TIMEOUT = 10.0
ROOT = Path(__file__).resolve().parents[3]


@contextlib.asynccontextmanager
async def server() -> AsyncIterator[str]:
    # async_handlers: the client's "question" handler calls "sum" while "ask" waits for it.
    sio = AsyncServer(async_handlers=True)

    for namespace in ("/", "/chat"):

        @sio.on("echo", namespace=namespace)
        async def echo(sid: str, *args: Any, namespace: str = namespace) -> None:
            await sio.emit("echo", args, to=sid, namespace=namespace)

    @sio.event
    def sum(sid: str, a: int, b: int) -> int:
        return a + b

    @sio.event
    async def ask(sid: str, round: int) -> None:
        answer = await sio.call("question", {"q": round}, to=sid, timeout=5)
        await sio.emit("answer", answer, to=sid)

    @sio.event
    async def hello(sid: str) -> None:
        await sio.emit("event", {"data": "hi"}, to=sid)

    @sio.on("my response")
    async def my_response(sid: str, data: Any) -> None:
        await sio.disconnect(sid)

    async with sio.listen("127.0.0.1", 0) as front:
        yield f"http://127.0.0.1:{front.port}"


class Seen:
    """What handlers saw, from any thread."""

    def __init__(self) -> None:
        self.items: list[tuple[Any, ...]] = []
        self.changed = threading.Condition()

    def put(self, *item: Any) -> None:
        with self.changed:
            self.items.append(item)
            self.changed.notify_all()

    def wait_for(self, *head: Any) -> tuple[Any, ...]:
        with self.changed:
            found: list[tuple[Any, ...]] = []

            def match() -> bool:
                found[:] = [i for i in self.items if i[: len(head)] == head]
                return bool(found)

            assert self.changed.wait_for(match, TIMEOUT), f"no {head} in {self.items}"
            return found[0]


def blocking_session(url: str) -> Seen:
    seen = Seen()
    sio = Client(reconnection=False)

    @sio.on("connect")
    def on_connect() -> None:
        seen.put("connect", threading.current_thread().name)

    @sio.event
    def echo(*args: Any) -> None:
        seen.put("echo", threading.current_thread().name, *args)

    @sio.event
    def question(data: dict[str, int]) -> dict[str, int]:
        # A handler may call the blocking API: the loop thread is free.
        seen.put("sum-in-handler", sio.call("sum", (data["q"], 1), timeout=TIMEOUT))
        return {"a": data["q"] * 2}

    @sio.event
    async def answer(data: Any) -> None:
        seen.put("answer", threading.current_thread().name, data)
        try:
            sio.emit("echo", "from the loop")
        except LocalProtocolError:
            seen.put("refused on the loop thread")

    class Chat(ClientNamespace):
        def on_echo(self, *args: Any) -> None:
            if args == ("first",):
                self.emit("echo", "second")  # blocking, from the handler thread
            seen.put("chat", *args)

    sio.register_namespace(Chat("/chat"))
    sio.on("disconnect", lambda reason: seen.put("disconnect", reason))
    sio.connect(url, namespaces=["/", "/chat"])
    assert sio.connected and sio.sid == sio.get_sid() and set(sio.namespaces) == {"/", "/chat"}
    assert sio.transport() == "websocket"
    assert seen.wait_for("connect")[1].startswith(HANDLER_THREAD)
    sio.emit("echo", ("a", b"\x00"))
    assert seen.wait_for("echo")[2:] == ("a", b"\x00")
    assert sio.call("sum", (2, 3)) == 5
    acked = threading.Event()
    sio.emit("sum", (1, 1), callback=lambda value: acked.set())
    assert acked.wait(TIMEOUT)
    sio.emit("ask", 4)
    assert seen.wait_for("answer")[1:] == (LOOP_THREAD, {"a": 8})
    assert seen.wait_for("sum-in-handler") == ("sum-in-handler", 5)
    seen.wait_for("refused on the loop thread")
    sio.send("ignored")
    sio.emit("echo", "first", namespace="/chat")
    seen.wait_for("chat", "second")
    sio.disconnect()
    sio.wait()
    assert seen.wait_for("disconnect") == ("disconnect", "client disconnect")
    assert not sio.connected and sio.transport() is None
    Client.sleep(0)
    return seen


@pytest.mark.asyncio
async def test_blocking_client_from_a_thread() -> None:
    async with server() as url:
        seen = await asyncio.to_thread(blocking_session, url)
    assert seen.items[0][0] == "connect"


def failing_connect(url: str) -> tuple[Any, ...]:
    sio = Client(reconnection=False)
    sio.wait()  # not connected: returns at once
    sio.disconnect()
    try:
        sio.connect(url, namespaces="/nowhere")
    except ConnectFailed as exc:
        return (exc.message, exc.namespace)
    return ()


@pytest.mark.asyncio
async def test_blocking_connect_failure_raises() -> None:
    async with server() as url:
        message, namespace = await asyncio.to_thread(failing_connect, url)
    assert namespace == "/nowhere" and "namespace" in message.lower()


def disconnect_from_handler(url: str) -> list[Any]:
    sio = Client(reconnection=False)
    errors: list[Any] = []

    @sio.event
    def echo(*args: Any) -> None:
        try:
            sio.wait()
        except LocalProtocolError as exc:
            errors.append(exc)
        sio.disconnect()  # returns at once from a handler

    sio.connect(url)
    sio.emit("echo", 1)
    sio.wait()
    return errors


@pytest.mark.asyncio
async def test_disconnect_from_a_handler() -> None:
    async with server() as url:
        errors = await asyncio.to_thread(disconnect_from_handler, url)
    assert len(errors) == 1


TUTORIAL = """
from socketio_core.aio import Client

sio = Client()

@sio.on('connect')
def on_connect():
    print('connection established', flush=True)
    sio.emit('hello')

@sio.on('event')
def on_event(data):
    print('message received with', data, flush=True)
    sio.emit('my response', {'response': 'my response'})

@sio.event
def disconnect():
    print('disconnected from server', flush=True)

sio.connect('URL')
sio.wait()
"""


@pytest.mark.asyncio
async def test_tutorial_snippet_in_a_plain_script() -> None:
    async with server() as url:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            TUTORIAL.replace("URL", url),
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), TIMEOUT)
    assert proc.returncode == 0, err.decode()
    assert out.decode().splitlines() == [
        "connection established",
        "message received with {'data': 'hi'}",
        "disconnected from server",
    ]
