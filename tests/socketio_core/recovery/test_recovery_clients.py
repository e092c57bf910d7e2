"""Connection state recovery end to end with our clients: AsyncClient and the blocking Client
against our server, through a proxy that cuts the TCP connections (websocket and polling).

While the client is away the server emits 100 events to its room and 10 to its sid; the
client reconnects inside the window: recovered, same sid, the 110 events in order, none
twice; five drops in a row all recover; after the window: a new session, and the server
says why. Waits are bounded (events awaited, or state polled every 10 ms).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from socketio_core.aio import AsyncClient, AsyncServer, Client

TIMEOUT = 10.0
MODES = ["websocket", "polling"]


async def until(condition: Callable[[], bool], what: str, timeout: float = TIMEOUT) -> None:
    """Wait, bounded, for a condition that no event reports (polled every 10 ms)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


@dataclass
class ServerSide:
    sio: AsyncServer
    port: int
    connects: list[tuple[str, bool, str | None]] = field(default_factory=list)
    disconnects: asyncio.Queue[tuple[str, str]] = field(default_factory=asyncio.Queue)

    async def drop_seen(self) -> tuple[str, str]:
        return await asyncio.wait_for(self.disconnects.get(), TIMEOUT)

    async def emit_while_away(self, sid: str, base: int) -> list[int]:
        for i in range(100):
            await self.sio.emit("news", base + i, room="r")
        for i in range(100, 110):
            await self.sio.emit("news", base + i, to=sid)
        return list(range(base, base + 110))


@contextlib.asynccontextmanager
async def server(mode: str, window: float = 30.0) -> AsyncIterator[ServerSide]:
    # Polling: the server learns of a cut only from the heartbeat, so make it short.
    sio = AsyncServer(
        connection_state_recovery={"max_disconnection_duration": window},
        ping_interval=0.3,
        ping_timeout=0.5,
    )
    side: ServerSide

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        recovered = environ["socketio.recovered"]
        assert recovered == sio.recovered(sid)
        side.connects.append((sid, recovered, environ["socketio.recovery_failure"]))
        if not recovered:
            await sio.enter_room(sid, "r")
            await sio.emit("welcome", to=sid)

    @sio.event
    async def disconnect(sid: str, reason: str) -> None:
        side.disconnects.put_nowait((sid, reason))

    @sio.event
    async def barrier(sid: str) -> None:
        await sio.emit("end", to=sid)

    async with sio.listen("127.0.0.1", 0) as front:
        side = ServerSide(sio, front.port)
        yield side


class Seen:
    """What a client's handlers saw (thread-safe: the blocking client's run in a thread)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.news: list[int] = []
        self.connects: list[tuple[str | None, bool]] = []
        self.ends = 0

    def count(self, what: str) -> int:
        with self.lock:
            return (
                len(self.news)
                if what == "news"
                else self.ends
                if what == "end"
                else len(self.connects)
            )


def handlers(client: AsyncClient | Client, seen: Seen) -> None:
    @client.event
    def connect() -> None:
        with seen.lock:
            seen.connects.append((client.sid, client.recovered))

    @client.on("news")
    def news(value: int, *extra: Any) -> None:
        assert not extra, extra  # the offset is taken off
        with seen.lock:
            seen.news.append(value)

    @client.on("end")
    def end() -> None:
        with seen.lock:
            seen.ends += 1


async def drop_and_recover(
    side: ServerSide,
    proxy: Any,
    client: Any,
    seen: Seen,
    sid: str,
    round_: int,
    emit: Callable[[str], Any],
) -> None:
    proxy.cut()
    gone, reason = await side.drop_seen()
    assert gone == sid and reason in ("transport close", "transport error", "ping timeout")
    with seen.lock:
        seen.news.clear()
        before_ends = seen.ends
    expected = await side.emit_while_away(sid, 1000 * round_)
    proxy.resume()
    await until(lambda: seen.count("connects") == round_ + 1, f"reconnection {round_}")
    with seen.lock:
        assert seen.connects[-1] == (sid, True), seen.connects
    await until(lambda: seen.count("news") >= 110, "the missed events")
    await emit("barrier")
    await until(lambda: seen.count("end") > before_ends, "the barrier")
    with seen.lock:
        assert seen.news == expected  # in order, none twice, none missing
    assert side.connects[-1] == (sid, True, None)


@pytest.mark.asyncio
@pytest.mark.parametrize("mode", MODES)
async def test_async_client_recovers_five_times_in_a_row(mode: str, cut_proxy: Any) -> None:
    async with server(mode) as side:
        proxy = await cut_proxy(side.port)
        client = AsyncClient(
            reconnection_delay=0.05, reconnection_delay_max=0.1, randomization_factor=0
        )
        seen = Seen()
        handlers(client, seen)
        await client.connect(f"http://127.0.0.1:{proxy.port}", transports=[mode])
        try:
            sid = client.sid
            assert sid is not None and not client.recovered
            for round_ in range(1, 6):
                await drop_and_recover(side, proxy, client, seen, sid, round_, client.emit)
            assert client.sid == sid and client.recovered
            assert side.sio.manager.recovery is not None
            assert side.sio.manager.recovery.session_count == 0
        finally:
            await client.disconnect()


@pytest.mark.asyncio
@pytest.mark.parametrize("mode", MODES)
async def test_blocking_client_recovers(mode: str, cut_proxy: Any) -> None:
    async with server(mode) as side:
        proxy = await cut_proxy(side.port)
        client = Client(reconnection_delay=0.05, reconnection_delay_max=0.1, randomization_factor=0)
        seen = Seen()
        handlers(client, seen)
        url = f"http://127.0.0.1:{proxy.port}"
        await asyncio.to_thread(client.connect, url, transports=[mode])
        try:
            sid = client.sid
            assert sid is not None

            async def emit(event: str) -> None:
                await asyncio.to_thread(client.emit, event)

            for round_ in range(1, 3):
                await drop_and_recover(side, proxy, client, seen, sid, round_, emit)
            assert client.recovered
        finally:
            await asyncio.to_thread(client.disconnect)


@pytest.mark.asyncio
@pytest.mark.parametrize("mode", MODES)
async def test_after_the_window_a_new_session(mode: str, cut_proxy: Any) -> None:
    async with server(mode, window=0.5) as side:
        proxy = await cut_proxy(side.port)
        client = AsyncClient(
            reconnection_delay=0.05, reconnection_delay_max=0.1, randomization_factor=0
        )
        seen = Seen()
        handlers(client, seen)
        await client.connect(f"http://127.0.0.1:{proxy.port}", transports=[mode])
        try:
            sid = client.sid
            proxy.cut()
            await side.drop_seen()
            await side.emit_while_away(str(sid), 0)
            store = side.sio.manager.recovery
            assert store is not None and store.session_count == 1
            await until(
                lambda: store.session_count == 0 and store.log_size == (0, 0), "the window's end"
            )
            proxy.resume()
            await until(lambda: seen.count("connects") == 2, "the reconnection")
            new_sid, recovered = seen.connects[-1]
            assert not recovered and not client.recovered and new_sid != sid
            assert side.connects[-1] == (new_sid, False, "unknown pid")
            await client.emit("barrier")
            await until(lambda: seen.count("end") == 1, "the barrier")
            assert seen.news == []  # nothing replayed
        finally:
            await client.disconnect()


@pytest.mark.asyncio
async def test_a_deliberate_disconnect_is_not_kept(cut_proxy: Any) -> None:
    async with server("websocket") as side:
        client = AsyncClient(reconnection=False)
        await client.connect(f"http://127.0.0.1:{side.port}", transports=["websocket"])
        sid = client.sid
        await client.disconnect()
        gone, reason = await side.drop_seen()
        assert gone == sid and reason not in ("transport close", "transport error", "ping timeout")
        store = side.sio.manager.recovery
        assert store is not None and store.session_count == 0


@pytest.mark.asyncio
@pytest.mark.parametrize("skip", [True, False])
async def test_session_and_data_come_back_and_middlewares_are_skipped(
    skip: bool, cut_proxy: Any
) -> None:
    sio = AsyncServer(connection_state_recovery={"skip_middlewares": skip})
    middleware_runs: list[str] = []
    gone: asyncio.Queue[str] = asyncio.Queue()
    restored: list[tuple[dict[str, Any], dict[str, Any]]] = []

    def middleware(sid: str, environ: dict[str, Any], auth: Any) -> None:
        middleware_runs.append(sid)

    sio.use(middleware)

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        if sio.recovered(sid):
            restored.append((await sio.get_session(sid), sio.socket_data(sid)))
            return
        await sio.save_session(sid, {"user": "ada"})
        sio.socket_data(sid)["score"] = 3

    @sio.event
    async def disconnect(sid: str, reason: str) -> None:
        gone.put_nowait(reason)

    async with sio.listen("127.0.0.1", 0) as front:
        proxy = await cut_proxy(front.port)
        client = AsyncClient(
            reconnection_delay=0.05, reconnection_delay_max=0.1, randomization_factor=0
        )
        await client.connect(f"http://127.0.0.1:{proxy.port}", transports=["websocket"])
        try:
            sid = client.sid
            proxy.cut()
            assert await asyncio.wait_for(gone.get(), TIMEOUT) == "transport close"
            proxy.resume()
            # the server's handler runs before its CONNECT reply reaches the client
            await until(lambda: bool(restored) and client.recovered, "the recovery")
            assert restored == [({"user": "ada"}, {"score": 3})]
            assert client.sid == sid
            assert middleware_runs == ([sid] if skip else [sid, sid])
        finally:
            await client.disconnect()
