"""Tests for socketio_core.aio.admin (``AsyncServer.instrument``): the Admin UI protocol, spoken
directly by our :class:`AsyncClient` over loopback to our server.

Each test records what the admin client receives, in order, and awaits the events it expects
(bounded); "nothing else arrived" is checked after a ``server_stats`` requested after the
actions, which the server queues behind anything they caused.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest

import socketio_core as socketio
from socketio_core.admin import hash_password
from socketio_core.aio import AsyncServer
from socketio_core.aio.admin import AdminInstrument, admin_ui_static_files
from socketio_core.aio.client import AsyncClient
from socketio_core.exceptions import ConnectFailed

TIMEOUT = 10.0
PASSWORD = "s3cret!"
HASHED = hash_password(PASSWORD, n=2**4)  # a cheap cost: the tests log in often


class Recorder:
    """A client of the admin namespace that records every event it receives."""

    EVENTS = (
        "session",
        "config",
        "all_sockets",
        "server_stats",
        "socket_connected",
        "socket_updated",
        "socket_disconnected",
        "room_joined",
        "room_left",
        "event_received",
        "event_sent",
    )

    def __init__(self) -> None:
        self.client = AsyncClient(reconnection=False)
        self.seen: list[tuple[Any, ...]] = []
        self._changed = asyncio.Condition()
        for name in self.EVENTS:
            self.client.on(name, self._recorder(name), namespace="/admin")

    def _recorder(self, name: str) -> Any:
        async def record(*args: Any) -> None:
            async with self._changed:
                self.seen.append((name, *args))
                self._changed.notify_all()

        return record

    async def until(self, name: str, test: Any = None, start: int = 0) -> tuple[Any, ...]:
        """The first event ``name`` (from index ``start``) that passes ``test``."""

        def found() -> tuple[Any, ...] | None:
            for item in self.seen[start:]:
                if item[0] == name and (test is None or test(*item[1:])):
                    return item
            return None

        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(found), TIMEOUT)
        item = found()
        assert item is not None
        return item

    def names(self, start: int = 0) -> list[str]:
        return [item[0] for item in self.seen[start:]]


@contextlib.asynccontextmanager
async def instrumented(**options: Any) -> AsyncIterator[tuple[AsyncServer, AdminInstrument, str]]:
    sio = AsyncServer()

    @sio.on("ping")
    async def ping(sid: str, *args: Any) -> str:
        return "pong"

    @sio.on("enter")
    async def enter(sid: str, room: str) -> None:
        await sio.enter_room(sid, room)

    options.setdefault("auth", {"username": "admin", "password": HASHED})
    options.setdefault("server_stats_interval", 60)
    admin = sio.instrument(**options)
    async with sio.listen("127.0.0.1", 0) as front:
        try:
            yield sio, admin, f"http://127.0.0.1:{front.port}"
        finally:
            await admin.shutdown()


async def user(url: str) -> AsyncClient:
    client = AsyncClient(reconnection=False)
    await client.connect(url, transports=["websocket"], wait_timeout=TIMEOUT)
    return client


LOGIN = {"username": "admin", "password": PASSWORD}


@pytest.mark.asyncio
async def test_development_mode_speaks_the_ui_protocol() -> None:
    async with instrumented() as (sio, admin, url):
        alice = await user(url)
        alice_sid = alice.namespaces["/"]
        ui = Recorder()
        await ui.client.connect(url, namespaces=["/admin"], auth=LOGIN, wait_timeout=TIMEOUT)

        session = await ui.until("session")
        assert isinstance(session[1], str) and len(session[1]) == 32
        config = await ui.until("config")
        assert config[1]["supportedFeatures"] == [
            *("EMIT", "JOIN", "LEAVE", "DISCONNECT", "MJOIN", "MLEAVE", "MDISCONNECT"),
            *("AGGREGATED_EVENTS", "ALL_EVENTS"),
        ]
        (_, sockets) = await ui.until("all_sockets")
        mine = [s for s in sockets if s["id"] == alice_sid]
        assert len(mine) == 1 and mine[0]["nsp"] == "/" and mine[0]["rooms"] == [alice_sid]
        assert mine[0]["transport"] == "websocket"
        assert mine[0]["handshake"]["address"] == "127.0.0.1"
        assert "auth" not in mine[0]["handshake"] and "_admin" not in mine[0]["data"]
        admin_sockets = [s for s in sockets if s["nsp"] == "/admin"]
        assert admin_sockets and all("auth" not in s["handshake"] for s in admin_sockets)
        await admin.send_stats()
        stats = await ui.until("server_stats")
        assert stats[1]["serverId"] == admin.server_id
        assert {"name": "/", "socketsCount": 1} in stats[1]["namespaces"]

        mark = len(ui.seen)
        await alice.call("enter", "lobby", timeout=TIMEOUT)
        joined = await ui.until("room_joined", start=mark)
        assert joined[1:4] == ("/", "lobby", alice_sid) and joined[4].endswith("Z")
        received = await ui.until("event_received", start=mark)
        assert received[1:4] == ("/", alice_sid, ["enter", "lobby"])

        await sio.emit("news", {"n": 1}, to="lobby")
        sent = await ui.until("event_sent", start=mark)
        assert sent[1:4] == ("/", alice_sid, ["news", {"n": 1}])

        # The UI's actions: make alice join a room, then disconnect her.
        await ui.client.emit("join", ("/", "vip", alice_sid), namespace="/admin")
        await ui.until("room_joined", lambda nsp, room, sid, ts: room == "vip", mark)
        assert "vip" in sio.rooms(alice_sid)
        await ui.client.emit("leave", ("/", "vip", alice_sid), namespace="/admin")
        await ui.until("room_left", lambda nsp, room, sid, ts: room == "vip", mark)
        await ui.client.emit("_disconnect", ("/", False, alice_sid), namespace="/admin")
        gone = await ui.until("socket_disconnected", start=mark)
        assert gone[1:4] == ("/", alice_sid, "server namespace disconnect")
        left = await ui.until("room_left", lambda nsp, room, sid, ts: room == "lobby", mark)
        assert left[3] == alice_sid

        bob = await user(url)
        connected = await ui.until("socket_connected", start=mark)
        assert connected[1]["id"] == bob.namespaces["/"] and connected[1]["clientId"]
        await bob.disconnect()
        await alice.disconnect()

        # A session id logs in again without the password.
        again = Recorder()
        await again.client.connect(
            url, namespaces=["/admin"], auth={"sessionId": session[1]}, wait_timeout=TIMEOUT
        )
        await again.until("config")
        assert "session" not in again.names()
        await again.client.disconnect()
        await ui.client.disconnect()


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "auth",
    [
        {"username": "admin", "password": "wrong"},
        {"username": "root", "password": PASSWORD},
        {"sessionId": "forged"},
        None,
    ],
)
async def test_wrong_credentials_are_refused(auth: Any) -> None:
    async with instrumented() as (_, _admin, url):
        ui = Recorder()
        with pytest.raises(ConnectFailed) as caught:
            await ui.client.connect(url, namespaces=["/admin"], auth=auth, wait_timeout=TIMEOUT)
        assert caught.value.message == "invalid credentials"
        assert ui.seen == []


@pytest.mark.asyncio
async def test_plain_password_is_hashed_at_start() -> None:
    async with instrumented(auth={"username": "admin", "password": PASSWORD}) as (_, admin, url):
        assert admin.credentials is not None
        stored = admin.credentials.accounts[0].stored
        assert stored.startswith("scrypt:") and PASSWORD not in stored
        ui = Recorder()
        await ui.client.connect(url, namespaces=["/admin"], auth=LOGIN, wait_timeout=TIMEOUT)
        await ui.until("config")
        await ui.client.disconnect()


@pytest.mark.asyncio
async def test_bcrypt_hash_and_callable_auth() -> None:
    bcrypt = pytest.importorskip("bcrypt")
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    async with instrumented(auth={"username": "admin", "password": hashed}) as (_, _a, url):
        ui = Recorder()
        await ui.client.connect(url, namespaces=["/admin"], auth=LOGIN, wait_timeout=TIMEOUT)
        await ui.until("config")
        await ui.client.disconnect()

    async def check(auth: Any) -> bool:
        return isinstance(auth, dict) and auth.get("token") == "t0k"

    async with instrumented(auth=check) as (_, _a, url):
        ui = Recorder()
        with pytest.raises(ConnectFailed):
            await ui.client.connect(
                url, namespaces=["/admin"], auth={"token": "no"}, wait_timeout=TIMEOUT
            )
        await ui.client.connect(
            url, namespaces=["/admin"], auth={"token": "t0k"}, wait_timeout=TIMEOUT
        )
        await ui.until("config")
        assert "session" not in ui.names()
        await ui.client.disconnect()


@pytest.mark.asyncio
@pytest.mark.parametrize("read_only", [True, False])
async def test_read_only_refuses_actions(read_only: bool) -> None:
    async with instrumented(read_only=read_only) as (sio, _admin, url):
        ui = Recorder()
        # One Engine.IO connection for both namespaces: its packets are handled in order, so
        # the ack of "ping" on "/" comes after the "join" on "/admin" was handled.
        await ui.client.connect(url, namespaces=["/admin", "/"], auth=LOGIN, wait_timeout=TIMEOUT)
        config = await ui.until("config")
        assert ("JOIN" not in config[1]["supportedFeatures"]) is read_only
        sid = ui.client.namespaces["/"]
        await ui.client.emit("join", ("/", "vip", sid), namespace="/admin")
        await ui.client.emit("_disconnect", ("/", False, sid), namespace="/admin")
        if read_only:
            assert await ui.client.call("ping", timeout=TIMEOUT) == "pong"
            assert sio.rooms(sid) == [sid]
        else:
            await ui.until("socket_disconnected")
            assert sio.rooms(sid) == []
        await ui.client.disconnect()


@pytest.mark.asyncio
async def test_production_mode_sends_only_stats() -> None:
    async with instrumented(mode="production") as (sio, admin, url):
        ui = Recorder()
        await ui.client.connect(url, namespaces=["/admin"], auth=LOGIN, wait_timeout=TIMEOUT)
        config = await ui.until("config")
        assert "ALL_EVENTS" not in config[1]["supportedFeatures"]
        alice = await user(url)
        await alice.call("enter", "lobby", timeout=TIMEOUT)
        await sio.emit("news", 1)
        await alice.disconnect()
        await admin.send_stats()
        last = len(ui.seen)
        await admin.send_stats()
        stats = await ui.until("server_stats", start=last)
        assert set(ui.names()) == {"session", "config", "server_stats"}
        kinds = {event["type"] for event in stats[1]["aggregatedEvents"]}
        everything = [
            e["type"] for (_, s) in ui.seen if _ == "server_stats" for e in s["aggregatedEvents"]
        ]
        assert {"rawConnection", "packetsIn", "packetsOut", "bytesIn", "bytesOut"} <= set(
            everything
        )
        assert kinds <= set(everything)
        await ui.client.disconnect()


@pytest.mark.asyncio
async def test_queue_is_bounded() -> None:
    async with instrumented(max_queued=1) as (_sio, admin, url):
        ui = Recorder()
        await ui.client.connect(url, namespaces=["/admin"], auth=LOGIN, wait_timeout=TIMEOUT)
        await ui.until("config")
        for room in ("a", "b", "c"):  # one tick: nothing is drained between them
            admin.on_join("/", "someone", room)
        assert admin.dropped == 2
        await ui.until("room_joined")
        await ui.client.disconnect()


@pytest.mark.asyncio
async def test_auth_options(caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(ValueError, match="auth must be given"):
        AsyncServer().instrument()
    with pytest.raises(ValueError, match="mode"):
        AsyncServer().instrument(auth=False, mode="staging")  # type: ignore[arg-type]
    sio = AsyncServer()
    with caplog.at_level(logging.WARNING, logger="socketio_core.aio.admin"):
        admin = sio.instrument(auth=False)
    assert "WITHOUT AUTHENTICATION" in caplog.text
    with pytest.raises(ValueError, match="already instrumented"):
        sio.instrument(auth=False)
    await admin.shutdown()


def test_not_instrumented_means_no_hooks() -> None:
    sio = AsyncServer()
    assert sio.listener is None and sio.manager.registry.observer is None


def test_static_files_need_the_npm_package(tmp_path: Any) -> None:
    with pytest.raises(FileNotFoundError, match=r"@socket\.io/admin-ui"):
        admin_ui_static_files(tmp_path)
    (tmp_path / "index.html").write_text("<html></html>")
    assert admin_ui_static_files(tmp_path, "/ui") == {"/ui/": f"{tmp_path}/"}


@pytest.mark.asyncio
async def test_stats_every_interval() -> None:
    async with instrumented(server_stats_interval=0.01) as (_sio, _admin, url):
        ui = Recorder()
        await ui.client.connect(url, namespaces=["/admin"], auth=LOGIN, wait_timeout=TIMEOUT)
        first = await ui.until("server_stats")
        await ui.until("server_stats", start=ui.seen.index(first) + 1)  # and again
        assert first[1]["clientsCount"] == 1 and first[1]["pollingClientsCount"] in (0, 1)
        await ui.client.disconnect()


@pytest.mark.asyncio
async def test_malformed_actions_are_dropped(caplog: pytest.LogCaptureFixture) -> None:
    async with instrumented() as (sio, _admin, url):
        ui = Recorder()
        await ui.client.connect(url, namespaces=["/admin", "/"], auth=LOGIN, wait_timeout=TIMEOUT)
        await ui.until("config")
        sid = ui.client.namespaces["/"]
        with caplog.at_level(logging.DEBUG, logger="socketio_core"):
            for event, args in [
                ("join", ()),
                ("join", ("/", 42, sid)),
                ("join", (["/"], "vip", sid)),
                ("leave", ("/", "vip", {"sid": sid})),
                ("_disconnect", (None,)),
                ("emit", ("/", None, 7)),
                ("join", ("/", "vip", sid, "extra", "args")),  # extra arguments are ignored
            ]:
                await ui.client.emit(event, args, namespace="/admin")
            assert await ui.client.call("ping", timeout=TIMEOUT) == "pong"  # all handled
        assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert "bad arguments dropped" in caplog.text
        assert sio.rooms(sid) == [sid, "vip"]  # only the well-formed join did something
        await ui.client.disconnect()


@pytest.mark.asyncio
async def test_instrument_reaches_connections_opened_before() -> None:
    sio = AsyncServer()

    @sio.on("ping")
    async def ping(sid: str, *args: Any) -> str:
        return "pong"

    async with sio.listen("127.0.0.1", 0) as front:
        alice = await user(f"http://127.0.0.1:{front.port}")
        admin = sio.instrument(auth=False, server_stats_interval=60)
        try:
            before_in, before_out = admin._packets_in, admin._packets_out
            assert await alice.call("ping", timeout=TIMEOUT) == "pong"
            # Alice's connection was opened before instrument(): its driver counts anyway.
            assert (admin._packets_in, admin._packets_out) == (before_in + 1, before_out + 1)
            await alice.disconnect()
        finally:
            await admin.shutdown()


def test_dropin_servers_instrument_with_python_socketios_signature() -> None:
    python_socketio = pytest.importorskip("socketio")

    def named(function: Any) -> dict[str, Any]:
        params = inspect.signature(function).parameters.values()
        return {p.name: p.default for p in params if p.kind is p.POSITIONAL_OR_KEYWORD}

    theirs = named(python_socketio.AsyncServer.instrument)
    assert named(socketio.AsyncServer.instrument) == theirs
    assert named(socketio.Server.instrument) == theirs
    sync = socketio.Server()
    try:
        admin = sync.instrument({"username": "admin", "password": HASHED}, "production", True)
        assert isinstance(admin, AdminInstrument)
        assert (admin.mode, admin.read_only, sync.async_server.listener) == (
            "production",
            True,
            admin,
        )
    finally:
        sync.shutdown()


@pytest.mark.asyncio
async def test_dropin_async_server_serves_the_ui() -> None:
    sio = socketio.AsyncServer()
    admin = sio.instrument(auth={"username": "admin", "password": HASHED})
    assert isinstance(admin, AdminInstrument) and sio.listener is admin
    async with sio.listen("127.0.0.1", 0) as front:
        try:
            ui = Recorder()
            url = f"http://127.0.0.1:{front.port}"
            await ui.client.connect(url, namespaces=["/admin"], auth=LOGIN, wait_timeout=TIMEOUT)
            await ui.until("config")
            await ui.until("all_sockets")
            await ui.client.disconnect()
        finally:
            await admin.shutdown()
