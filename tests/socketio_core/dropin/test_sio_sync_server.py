"""``socketio_core.Server``: python-socketio's synchronous server as a facade over
``AsyncServer`` on a loop thread. Plain handlers run in handler threads, in order per client;
every method works from a handler and from any other thread."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator
from typing import Any

import pytest

import socketio_core as socketio
from socketio_core.exceptions import LocalProtocolError

TIMEOUT = 5.0


@contextlib.asynccontextmanager
async def serving(sio: socketio.Server) -> AsyncIterator[str]:
    """The server's standalone front door, on its own loop thread."""

    async def start() -> Any:
        return await sio.async_server.listen("127.0.0.1", 0)

    front = await asyncio.to_thread(sio.loop_thread.run, start())
    try:
        yield f"http://127.0.0.1:{front.port}"
    finally:
        await asyncio.to_thread(sio.loop_thread.run, front.close())


async def client(url: str, inbox: asyncio.Queue[Any], **kwargs: Any) -> socketio.AsyncClient:
    sio = socketio.AsyncClient(reconnection=False)
    sio.on("*", lambda event, *args: inbox.put_nowait([event, *args]))
    await sio.connect(url, **kwargs)
    return sio


@pytest.mark.asyncio
async def test_plain_handlers_run_off_the_loop_and_use_every_method() -> None:
    sio = socketio.Server(async_mode="threading")
    threads: list[str] = []

    @sio.event
    def connect(sid: str, environ: dict[str, Any]) -> None:
        threads.append(threading.current_thread().name)
        sio.save_session(sid, {"user": "ann"})
        sio.emit("welcome", sid, to=sid)

    @sio.event
    def join(sid: str, room: str) -> str:
        sio.enter_room(sid, room)
        with sio.session(sid) as session:
            session["room"] = room
        sio.send({"joined": room}, room=room)
        return ",".join(sorted(sio.rooms(sid)))

    @sio.event
    def leave(sid: str, room: str) -> list[str]:
        sio.leave_room(sid, room)
        return sorted(sio.rooms(sid))

    @sio.event
    def ask(sid: str) -> Any:
        return sio.call("question", "ping?", to=sid, timeout=TIMEOUT)

    @sio.event
    def whoami(sid: str) -> Any:
        return [sio.get_session(sid), sio.transport(sid), sio.get_environ(sid)["REQUEST_METHOD"]]

    @sio.event
    def shut(sid: str, room: str) -> None:
        sio.close_room(room)
        sio.disconnect(sid)

    inbox: asyncio.Queue[Any] = asyncio.Queue()
    async with serving(sio) as url:
        c = await client(url, inbox, transports=["websocket"])
        c.on("question", lambda text: text.upper())
        assert await asyncio.wait_for(inbox.get(), TIMEOUT) == ["welcome", c.sid]
        assert threads[0].startswith("socketio-handler")
        assert await c.call("join", "lobby", timeout=TIMEOUT) == ",".join(
            sorted([c.sid or "", "lobby"])
        )
        assert await asyncio.wait_for(inbox.get(), TIMEOUT) == ["message", {"joined": "lobby"}]
        assert await c.call("ask", timeout=TIMEOUT) == "PING?"
        assert await c.call("whoami", timeout=TIMEOUT) == [
            {"user": "ann", "room": "lobby"},
            "websocket",
            "GET",
        ]
        # From another thread than the handlers'.
        await asyncio.to_thread(sio.emit, "news", {"n": 1}, room="lobby")
        assert await asyncio.wait_for(inbox.get(), TIMEOUT) == ["news", {"n": 1}]
        assert await c.call("leave", "lobby", timeout=TIMEOUT) == [c.sid]
        gone = asyncio.Event()
        c.on("disconnect", lambda reason: gone.set())
        await c.emit("shut", "lobby")
        await asyncio.wait_for(gone.wait(), TIMEOUT)
        await c.disconnect()
    await asyncio.to_thread(sio.shutdown)


@pytest.mark.asyncio
async def test_a_clients_events_run_in_order_clients_in_parallel() -> None:
    sio = socketio.Server()
    release = threading.Event()
    order: list[Any] = []

    @sio.event
    def slow(sid: str, n: int) -> None:
        if n == 0:
            release.wait(TIMEOUT)  # blocks this client's queue only
        order.append(n)

    @sio.event
    def other(sid: str) -> None:
        order.append("other")
        release.set()

    inbox: asyncio.Queue[Any] = asyncio.Queue()
    async with serving(sio) as url:
        a = await client(url, inbox)
        b = await client(url, inbox)
        for n in range(3):
            await a.emit("slow", n)
        await b.call("other", timeout=TIMEOUT)
        await a.call("slow", 3, timeout=TIMEOUT)
        await a.disconnect()
        await b.disconnect()
    assert order == ["other", 0, 1, 2, 3]


@pytest.mark.asyncio
async def test_namespace_class_with_plain_methods() -> None:
    sio = socketio.Server()
    seen: list[Any] = []
    left = threading.Event()

    class Chat(socketio.Namespace):
        def on_connect(self, sid: str, environ: dict[str, Any]) -> None:
            seen.append(threading.current_thread().name.startswith("socketio-handler"))
            self.enter_room(sid, "room")
            self.emit("hi", "there", room="room")

        def on_echo(self, sid: str, data: Any) -> Any:
            self.save_session(sid, {"last": data})
            with self.session(sid) as session:
                session["seen"] = True
            return [data, self.get_session(sid), sorted(self.rooms(sid))]

        def on_disconnect(self, sid: str, reason: str) -> None:
            seen.append(reason)
            left.set()

    sio.register_namespace(Chat("/chat"))
    inbox: asyncio.Queue[Any] = asyncio.Queue()
    async with serving(sio) as url:
        c = socketio.AsyncClient(reconnection=False)
        c.on("*", lambda event, *args: inbox.put_nowait([event, *args]), namespace="/chat")
        await c.connect(url, namespaces=["/chat"])
        assert await asyncio.wait_for(inbox.get(), TIMEOUT) == ["hi", "there"]
        sid = c.get_sid("/chat")
        assert await c.call("echo", 5, namespace="/chat", timeout=TIMEOUT) == [
            5,
            {"last": 5, "seen": True},
            sorted([sid, "room"]),
        ]
        await c.disconnect()
        assert await asyncio.to_thread(left.wait, TIMEOUT)  # runs in a handler thread
    assert seen == [True, "client namespace disconnect"]


@pytest.mark.asyncio
async def test_async_handlers_and_calls_from_the_loop_thread() -> None:
    sio = socketio.Server()
    errors: list[Exception] = []

    @sio.event
    async def ping(sid: str) -> None:
        sio.emit("pong", to=sid)  # scheduled: an async handler must not wait for the loop
        try:
            sio.call("x", to=sid)
        except LocalProtocolError as exc:
            errors.append(exc)

    inbox: asyncio.Queue[Any] = asyncio.Queue()
    async with serving(sio) as url:
        c = await client(url, inbox)
        await c.emit("ping")
        assert await asyncio.wait_for(inbox.get(), TIMEOUT) == ["pong"]
        await c.disconnect()
    assert len(errors) == 1


def test_background_task_and_sleep() -> None:
    sio = socketio.Server()
    done = threading.Event()
    thread = sio.start_background_task(lambda: (sio.sleep(0), done.set()))
    thread.join(TIMEOUT)
    assert done.is_set() and sio.async_mode == "threading"
    with pytest.raises(ValueError, match="'threading'"):
        socketio.Server(async_mode="asgi")
